#!/usr/bin/env bash
# Issue #15: a command that writes auth.json never destroys a login it does not hold. An
# unknown ChatGPT login is stored first (named after the email, made unique), an API key or a
# file codex-switch cannot store is copied 0600 into the store's directory, and the user is told
# on stderr. Also the selector messages: the id-prefix rule and the candidates of an ambiguity.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/cs-cli-adopt-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
# No backend: usage fetches fail fast on a closed loopback port.
export CODEX_SWITCH_CHATGPT_BASE_URL=http://127.0.0.1:9 CODEX_REFRESH_TOKEN_URL_OVERRIDE=http://127.0.0.1:9/oauth/token
store=$CODEX_SWITCH_HOME/accounts.json
auth=$CODEX_HOME/auth.json
. "$(dirname "$0")/lib.sh"

expect() { # expect RC 'text in stdout' 'text in stderr' description
	if [ "$rc" = "$1" ]; then ok; else bad "$4: exit $rc, wanted $1 ($(cat "$tmp/err"))"; fi
	if [ -n "$2" ] && ! grep -qF -- "$2" "$tmp/out"; then bad "$4: stdout lacks '$2'"; fi
	if [ -n "$3" ] && ! grep -qF -- "$3" "$tmp/err"; then bad "$4: stderr lacks '$3' ($(cat "$tmp/err"))"; fi
}
fake() { python3 "$here/fake_auth.py" "$@"; }
names() { python3 -c "import json; print(' '.join(sorted(a['name'] for a in json.load(open('$store'))['accounts'])))"; }
refresh_of() { python3 -c "import json; print([a['auth_data']['refresh_token'] for a in json.load(open('$store'))['accounts'] if a['name']=='$1'][0])"; }
backups() { ls "$CODEX_SWITCH_HOME"/auth-backup-*.json 2>/dev/null | wc -l; }

mkdir -p "$CODEX_HOME"
fake chatgpt alice@example.com user-a ws-a plus a1 >"$auth"
run import alice
expect 0 "imported alice (" "" "import alice"
fake chatgpt bob@example.com user-b ws-b plus b1 >"$tmp/bob.json"
run import bob --file "$tmp/bob.json"
expect 0 "imported bob (" "" "import bob"

# --- an unknown ChatGPT login in auth.json is stored before switch overwrites it ----------
fake chatgpt carol@example.com user-c ws-c pro c1 >"$auth"
run switch bob
expect 0 "switched to bob (" "held carol@example.com, which was not stored; it is stored now as carol (" \
	"switch stores the unknown login first"
check "[ \"\$(names)\" = 'alice bob carol' ]" "carol is in the store ($(names))"
check "[ \"\$(refresh_of carol)\" = rt_refresh_c1_secretvalue ]" "carol's tokens are kept"
check "grep -q rt_refresh_b1 '$auth'" "auth.json holds bob now"
run switch carol
expect 0 "switched to carol (" "" "the adopted login can be switched back to"
check "grep -q rt_refresh_c1_secretvalue '$auth'" "auth.json holds carol's own tokens"
check "! grep -q 'was not stored' '$tmp/err'" "a stored login is not adopted twice"

# Another workspace of the same email: a new account, under a unique name.
fake chatgpt carol@example.com user-c ws-c2 team c2 >"$auth"
run switch alice
expect 0 "switched to alice (" "it is stored now as carol-2 (" "the name is made unique"
check "[ \"\$(names)\" = 'alice bob carol carol-2' ]" "carol-2 is in the store ($(names))"

# --- newer tokens of a stored account are taken in, silently ------------------------------
fake chatgpt alice@example.com user-a ws-a plus a1-rotated 2099-01-01T00:00:00Z >"$auth"
run switch bob
expect 0 "switched to bob (" "" "switch after Codex rotated alice's tokens"
check "[ \"\$(refresh_of alice)\" = rt_refresh_a1-rotated_secretvalue ]" "alice's rotated tokens saved"
check "[ ! -s '$tmp/err' ]" "nothing to tell about newer tokens ($(cat "$tmp/err"))"

# --- an API key codex-switch does not hold is copied 0600 before it is overwritten ----------
fake apikey sk-test-adopt-key-0123456789 >"$auth"
cp "$auth" "$tmp/key.json"
run switch alice
expect 0 "switched to alice (" "held an API key, which codex-switch does not store; a copy is now in '$CODEX_SWITCH_HOME/auth-backup-" \
	"switch copies the API key first"
copy=$(ls "$CODEX_SWITCH_HOME"/auth-backup-*.json 2>/dev/null | head -1)
check "[ -n '$copy' ] && cmp -s '$copy' '$tmp/key.json'" "the copy is the file as it was"
check "[ \"\$(stat -c %a '$copy')\" = 600 ]" "the copy is 0600"
check "grep -qF \"'$copy'\" '$tmp/err'" "the message names the copy"
check "! grep -q sk-test-adopt-key '$tmp/err'" "the key itself is not printed"
cp "$tmp/key.json" "$auth"
run switch alice
expect 0 "switched to alice (" "" "the same key again"
check "[ \"\$(backups)\" = 1 ]" "the same file is copied once ($(backups))"

# A stored API key is held: nothing to copy.
run import ci --file "$tmp/key.json"
expect 0 "(API key)" "" "import the key"
run switch ci
run switch alice
expect 0 "switched to alice (" "" "switch away from a stored key"
check "[ \"\$(backups)\" = 1 ] && ! grep -q 'a copy is now' '$tmp/err'" "a stored key is not copied"

# A file codex-switch cannot parse is kept too, and a login of another kind.
echo '{"auth_mode": "chatgpt", "tokens": {' >"$auth"
run switch bob
expect 0 "switched to bob (" "held a file it cannot parse" "a broken auth.json is copied"
fake mode agentIdentity >"$auth"
run switch bob
expect 0 "switched to bob (" "held a login of another kind" "an agentIdentity auth.json is copied"
check "[ \"\$(backups)\" = 3 ]" "three different files, three copies ($(backups))"

# An auth.json that cannot be read is not overwritten unseen.
if [ "$(id -u)" != 0 ]; then
	fake chatgpt dave@example.com user-d ws-d plus d1 >"$auth"
	chmod 000 "$auth"
	run switch alice
	expect 1 "" "codex-switch does not replace a file it cannot read" "unreadable auth.json"
	chmod 600 "$auth"
	check "grep -q rt_refresh_d1 '$auth'" "the unreadable file was left alone"
fi

# --- auto-switch takes the login in too -----------------------------------------------------
fake chatgpt erin@example.com user-e ws-e plus e1 >"$auth"
run auto-switch --dry-run
check "! grep -q erin '$store'" "a dry run stores nothing"
run auto-switch
check "names | grep -qw erin" "auto-switch stored erin ($(cat "$tmp/err"))"
check "grep -qF 'it is stored now as erin (' '$tmp/err'" "auto-switch said so"

# --- selectors ------------------------------------------------------------------------------
bob_id=$(python3 -c "import json; print([a['id'] for a in json.load(open('$store'))['accounts'] if a['name']=='bob'][0])")
run switch "${bob_id:0:2}"
expect 1 "" "no account matches '${bob_id:0:2}': an id prefix needs at least 4 characters (it would match bob (" \
	"a short id prefix says the rule"
run switch "${bob_id:0:4}"
expect 0 "switched to bob (" "" "four characters are enough"
run switch zz
expect 1 "" "no account matches 'zz'; run 'codex-switch list'" "a short word that is no prefix"
fake chatgpt carol@example.com user-c ws-c pro c1 >"$auth"
run switch carol@example.com
expect 1 "" "'carol@example.com' matches several accounts: carol (" "an ambiguous email"
check "grep -qF 'carol-2 (' '$tmp/err' && grep -qF 'use the name or the id instead' '$tmp/err'" \
	"the candidates and what to use instead"

finish
