#!/usr/bin/env bash
# The account commands end to end: every command, its error paths, exit codes, file modes,
# and that nothing secret reaches --json output or stderr.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
root=${CS_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
tmp=$(mktemp -d /tmp/cs-cli-accounts-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
store=$CODEX_SWITCH_HOME/accounts.json
auth=$CODEX_HOME/auth.json
. "$(dirname "$0")/lib.sh"

# lib.sh's run, also collecting every stderr for the secret check at the end.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/err" >>"$tmp/all-stderr"
}
expect() { # expect RC 'text in stdout' 'text in stderr' description
	if [ "$rc" = "$1" ]; then ok; else bad "$4: exit $rc, wanted $1 ($(cat "$tmp/err"))"; fi
	if [ -n "$2" ] && ! grep -qF -- "$2" "$tmp/out"; then bad "$4: stdout lacks '$2'"; fi
	if [ -n "$3" ] && ! grep -qF -- "$3" "$tmp/err"; then bad "$4: stderr lacks '$3'"; fi
}
sums() { sha256sum "$store" "$auth" 2>/dev/null; }
mode() { stat -c %a "$1"; }
fake() { python3 "$here/fake_auth.py" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); $1"; }

# --- empty store -------------------------------------------------------------------------
run list
expect 0 "codex-switch import <name>" "" "list on an empty store"
check "grep -qF 'codex-switch login <name>' '$tmp/out'" "empty list mentions login"
run list --json
expect 0 '"schema_version"' "" "list --json on an empty store"
check "json 'assert d[\"accounts\"] == [] and d[\"command\"] == \"list\"'" "empty json list"

# --- import ------------------------------------------------------------------------------
run import work
expect 1 "" "codex login" "import without auth.json"
check "[ ! -e '$store' ]" "failed import wrote nothing"

mkdir -p "$CODEX_HOME"
fake chatgpt alice@example.com user-a ws-11111111-aaaa plus a1 2026-05-01T10:00:00Z >"$auth"
run import work
expect 0 "imported work (" "" "import the current login"
check "[ \"\$(mode '$store')\" = 600 ]" "accounts.json is 0600"
check "[ \"\$(mode '$CODEX_SWITCH_HOME')\" = 700 ]" "store dir is 0700"
check "[ ! -e '$CODEX_SWITCH_HOME/accounts.lock' ]" "lock released after import"

before=$(sums)
run import again
expect 1 "" "already stored as work (" "duplicate import"
check "[ \"\$(sums)\" = \"\$before\" ]" "duplicate import left the files alone"

fake chatgpt alice@example.com user-a ws-22222222-bbbb pro a2 >"$tmp/team.json"
run import work --file "$tmp/team.json"
expect 1 "" "the name 'work' is taken" "import under a used name"
check "[ \"\$(sums)\" = \"\$before\" ]" "name clash left the files alone"
run import team --file "$tmp/team.json"
expect 0 "imported team (" "" "same email, second workspace is another account"

fake chatgpt bob@example.com user-b ws-11111111-aaaa plus b1 >"$tmp/bob.json"
run import colleague --file "$tmp/bob.json"
expect 0 "imported colleague (" "" "same workspace, another user is another account"

fake apikey sk-test-cli-key-0123456789 >"$tmp/key.json"
run import ci --file "$tmp/key.json"
expect 0 "(API key)" "" "import an API key"

before=$(sums)
for m in chatgptAuthTokens agentIdentity; do
	fake mode "$m" >"$tmp/mode.json"
	run import "m-$m" --file "$tmp/mode.json"
	expect 1 "" "auth_mode '$m', which codex-switch cannot store" "import refuses $m"
done
echo '{"auth_mode": "chatgpt", "tokens": {"id_token": "x.y",' >"$tmp/broken.json"
run import broken --file "$tmp/broken.json"
expect 1 "" "cannot parse '$tmp/broken.json'" "import of broken JSON"
run import nofile --file "$tmp/missing.json"
expect 1 "" "cannot read '$tmp/missing.json'" "import of a missing file"
run import ""
expect 2 "" "name is empty" "import with an empty name"
run import "$(printf 'bad\tname')"
expect 2 "" "control characters" "import with a control character"
run import
expect 2 "" "usage: codex-switch import" "import without a name"
run import a b
expect 2 "" "unexpected argument 'b'" "import with two names"
run import x --bogus
expect 2 "" "unknown option '--bogus'" "import with an unknown option"
run import x --file
expect 2 "" "needs a value" "--file without a value"
check "[ \"\$(sums)\" = \"\$before\" ]" "rejected imports left the files alone"

# --- help --------------------------------------------------------------------------------
for c in list import export switch auto-switch rename delete enable disable; do
	run "$c" --help
	expect 0 "usage: codex-switch $c" "" "$c --help"
	check "grep -q '^example: codex' '$tmp/out'" "$c --help has an example"
done

# --- list --------------------------------------------------------------------------------
run list
expect 0 "alice@example.com" "" "list shows the groups"
check "grep -qE '^  \\* work ' '$tmp/out'" "list marks the current account"
check "grep -q '(no email)' '$tmp/out' && grep -q 'api key' '$tmp/out'" "list shows the API key"
check "grep -q 'ws-11111' '$tmp/out'" "list shows the workspace"
check "[ \$(grep -c '@example.com' '$tmp/out') = 2 ]" "one heading per email"
run list --json
expect 0 '"schema_version"' "" "list --json"
check "json '
a = {x[\"name\"]: x for x in d[\"accounts\"]}
assert d[\"schema_version\"] == 1 and len(a) == 4
assert a[\"work\"][\"current\"] and not a[\"team\"][\"current\"]
assert a[\"ci\"][\"auth_mode\"] == \"api_key\" and a[\"work\"][\"auth_mode\"] == \"chatgpt\"
assert a[\"work\"][\"short_id\"] == a[\"work\"][\"id\"][:8]
assert a[\"work\"][\"token_last_refresh_at\"] == 1777629600
assert a[\"work\"][\"last_used_at\"] is None and isinstance(a[\"work\"][\"created_at\"], int)
assert a[\"colleague\"][\"chatgpt_account_id\"] == \"ws-11111111-aaaa\"
assert not a[\"team\"][\"needs_relogin\"] and not a[\"team\"][\"auto_switch_disabled\"]
'" "list --json fields"
check "! grep -qE 'rt_refresh|eyJ|sk-test' '$tmp/out'" "list --json holds no secrets"

# --- switch ------------------------------------------------------------------------------
run switch team
expect 0 "switched to team (" "" "switch by name"
check "grep -q rt_refresh_a2 '$auth' && [ \"\$(mode '$auth')\" = 600 ]" "auth.json holds team"
run list --json
check "json '
a = {x[\"name\"]: x for x in d[\"accounts\"]}
assert a[\"team\"][\"current\"] and a[\"team\"][\"last_used_at\"] is not None
'" "switch made team current and used"
team_id=$(python3 -c "import json; print([a['id'] for a in json.load(open('$store'))['accounts'] if a['name']=='team'][0])")
run switch "${team_id:0:6}"
expect 0 "switched to team (" "" "switch by id prefix"
run switch bob@example.com
expect 0 "switched to colleague (" "" "switch by unique email"
before=$(sums)
run switch alice@example.com
expect 1 "" "matches several accounts" "switch by an ambiguous email"
check "grep -q 'work (' '$tmp/err' && grep -q 'team (' '$tmp/err'" "ambiguity lists candidates"
run switch nobody
expect 1 "" "no account matches 'nobody'; run 'codex-switch list'" "switch to nothing"
check "[ \"\$(sums)\" = \"\$before\" ]" "failed switches left the files alone"
CODEX_HOME=$tmp/fresh-codex run switch ci
expect 0 "switched to ci (" "" "switch creates CODEX_HOME"
check "[ \"\$(mode '$tmp/fresh-codex')\" = 700 ] && grep -q sk-test '$tmp/fresh-codex/auth.json'" \
	"new CODEX_HOME is 0700 with the key"

# Codex refreshed the tokens in auth.json itself: switching away keeps the rotated tokens.
fake chatgpt bob@example.com user-b ws-11111111-aaaa plus b1-rotated 2099-01-01T00:00:00Z >"$auth"
run switch work
expect 0 "switched to work (" "" "switch after Codex rotated the tokens"
check "grep -q rt_refresh_b1-rotated_secretvalue '$store'" "rotated tokens saved to the store"

# --- export ------------------------------------------------------------------------------
run export team
expect 0 '"auth_mode":' "" "export to stdout"
check "grep -q rt_refresh_a2 '$tmp/out' && python3 -m json.tool '$tmp/out' >/dev/null" \
	"export prints a valid auth.json"
run export team --file "$tmp/exported.json"
expect 0 "exported team (" "" "export to a file"
check "[ \"\$(mode '$tmp/exported.json')\" = 600 ]" "exported file is 0600"
exp_sum=$(sha256sum "$tmp/exported.json")
run export work --file "$tmp/exported.json"
expect 1 "" "refusing to overwrite '$tmp/exported.json'; pass --force" "export refuses overwrite"
check "[ \"\$(sha256sum '$tmp/exported.json')\" = \"\$exp_sum\" ]" "refused export left file"
run export work --file "$tmp/exported.json" --force
expect 0 "exported work (" "" "export --force"
check "grep -q rt_refresh_a1 '$tmp/exported.json'" "export --force replaced the file"
run export work --force
expect 2 "" "--force needs --file" "--force without --file"
run export nobody
expect 1 "" "no account matches" "export of nothing"

# --- rename ------------------------------------------------------------------------------
before=$(sums)
run rename team work
expect 1 "" "the name 'work' is taken" "rename onto a used name"
run rename team ""
expect 2 "" "name is empty" "rename to an empty name"
run rename nobody x
expect 1 "" "no account matches 'nobody'" "rename of nothing"
run rename team
expect 2 "" "usage: codex-switch rename" "rename without a new name"
check "[ \"\$(sums)\" = \"\$before\" ]" "failed renames left the files alone"
run rename team team-b
expect 0 "renamed team (" "" "rename"
run switch team-b
expect 0 "switched to team-b (" "" "renamed account is selectable"

# --- enable / disable --------------------------------------------------------------------
run disable team-b
expect 0 "disabled team-b (" "" "disable"
run disable team-b
expect 0 "already disabled" "" "disable twice"
run list
check "grep -E 'team-b .*disabled' '$tmp/out' >/dev/null" "list shows disabled"
run list --json
check "json 'assert [a for a in d[\"accounts\"] if a[\"name\"]==\"team-b\"][0][\"auto_switch_disabled\"]'" \
	"json shows disabled"
run enable team-b
expect 0 "enabled team-b (" "" "enable"
run enable nobody
expect 1 "" "no account matches" "enable of nothing"

# --- delete ------------------------------------------------------------------------------
auth_sum=$(sha256sum "$auth")
run delete colleague
expect 0 "deleted colleague (" "" "delete"
run delete team-b
expect 0 "still holds this account" "" "delete of the current account says so"
check "[ \"\$(sha256sum '$auth')\" = \"\$auth_sum\" ]" "delete never touches auth.json"
run list --json
check "json 'assert sorted(a[\"name\"] for a in d[\"accounts\"]) == [\"ci\", \"work\"]'" \
	"deleted accounts are gone"
run delete colleague
expect 1 "" "no account matches 'colleague'" "delete twice"

# --- a corrupt store is reported and never overwritten -----------------------------------
cp "$store" "$tmp/good.json"
printf '{"version": 1, "accounts": [' >"$store"
chmod 600 "$store"
before=$(sums)
for args in "list" "list --json" "import z --file $tmp/bob.json" "switch work" "rename work w" \
	"delete work" "disable work" "export work"; do
	# shellcheck disable=SC2086
	run $args
	expect 1 "" "cannot parse '$store': invalid JSON near byte" "corrupt store: $args"
done
check "[ \"\$(sums)\" = \"\$before\" ]" "corrupt store left untouched"
echo '{"version": 1, "accounts": [{"name": "x"}]}' >"$store"
run list
expect 1 "" "account 1: missing field 'id'" "store with a broken account"
cp "$tmp/good.json" "$store"

# --- a file written by the Rust tool -----------------------------------------------------
cp "$root/tests/data/rust-accounts.json" "$store"
run list
expect 0 "rust@example.com" "" "list a Rust accounts.json"
run rename ci-key ci-rust
expect 0 "renamed ci-key (" "" "rename in a Rust accounts.json"
check "python3 -c \"
import json; d = json.load(open('$store'))
assert d['active_account_id'] and d['masked_account_ids']
assert d['accounts'][0]['future_field'] == {'kept': [1, 2, 3]}
assert d['accounts'][0]['auth_data']['type'] == 'chat_g_p_t'
assert d['accounts'][1]['name'] == 'ci-rust'
\"" "unknown fields survive a rewrite"

# --- secrets never reach stderr ----------------------------------------------------------
check "! grep -qE 'rt_refresh|rt_rust|sk-test|sk-rust|eyJ' '$tmp/all-stderr'" "no secret on stderr"

finish
