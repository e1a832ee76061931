#!/usr/bin/env bash
# `codex-switch doctor` against good and broken set-ups: the real pinned codex passes, a fake old
# codex without --remote fails, and so do broken store files; it never changes a file.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
root=${CS_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
tmp=$(mktemp -d /tmp/cs-cli-doctor-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
unset CODEX_SWITCH_CODEX_BIN NO_COLOR
store=$CODEX_SWITCH_HOME/accounts.json
auth=$CODEX_HOME/auth.json
real_codex=${CS_CODEX_BIN:-$(python3 "$root/tests/integration/harness.py" codex-bin 2>/dev/null)}
. "$(dirname "$0")/lib.sh"
# The supported range, from the one file that holds it.
. "$root/scripts/codex-versions"
oldest=$CODEX_OLDEST pinned=$CODEX_PINNED newest=$CODEX_NEWEST
tested=${CS_CODEX_VERSION:-$pinned} # the codex under test

# line STATUS NAME TEXT: doctor printed a STATUS line for check NAME containing TEXT.
line() { grep -E "^$1  $2 " "$tmp/out" | grep -qF -- "$3"; }
expect_line() { if line "$1" "$2" "$3"; then ok; else bad "$4: no '$1 $2 ... $3' in: $(cat "$tmp/out")"; fi; }
fake() { python3 "$here/fake_auth.py" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); $1"; }
tree_sums() { find "$tmp/store" "$tmp/codex" -printf '%p %m %s\n' 2>/dev/null | sort; find "$tmp/store" "$tmp/codex" -type f -exec sha256sum {} + 2>/dev/null | sort; }

if [ ! -x "$real_codex" ]; then
	echo "FAIL: codex ${CS_CODEX_VERSION:-$CODEX_PINNED} is missing (${real_codex:-see harness.py codex-bin}): run scripts/install-deps.sh --test"
	echo "0 passed, 1 failed"
	exit 1
fi

# A fake old codex: it answers --version and --help, but knows neither --remote nor --ws-auth.
mkdir -p "$tmp/old"
cat >"$tmp/old/codex" <<'FAKE'
#!/bin/sh
case "$*" in
--version) echo "codex-cli 0.20.0" ;;
"app-server --help") printf 'Usage: codex app-server [OPTIONS]\n  --listen <URL>\n' ;;
--help) printf 'Usage: codex [OPTIONS] [PROMPT]\n  -m, --model <MODEL>\n' ;;
app-server*) sleep 60 ;;
esac
FAKE
chmod +x "$tmp/old/codex"

# --- empty set-up: warnings only, exit 0, nothing created -----------------------------------
run doctor --codex-bin "$real_codex"
expect_rc 0 "doctor on an empty set-up"
expect_line pass "codex" "codex-cli $tested" "real codex version"
expect_line pass "codex" "(verified: $oldest to $newest)" "doctor shows the verified range"
expect_line pass "codex-remote" "--remote-auth-token-env" "real codex has --remote"
expect_line pass "codex-app-server" "capability-token" "real codex app-server --ws-auth"
expect_line warn "store" "does not exist yet" "missing store"
check "grep -qF 'fix: codex-switch run (it stores the account of' '$tmp/out'" "missing store says what to do"
check "[ ! -e '$CODEX_SWITCH_HOME' ] && [ ! -e '$CODEX_HOME' ]" "doctor created nothing"
check "grep -qE '^[0-9]+ passed, [0-9]+ warnings, 0 failed$' '$tmp/out'" "summary line"

# --- the fake old codex fails, with what to do ----------------------------------------------
run doctor --codex-bin "$tmp/old/codex"
expect_rc 1 "doctor with a codex without --remote"
expect_line fail "codex" "codex 0.20.0 is older than $oldest, the oldest version codex-switch supports" "old codex version fails"
expect_line fail "codex-remote" "--remote" "old codex lacks --remote"
expect_line fail "codex-app-server" "--ws-auth" "old codex lacks --ws-auth"
check "grep -qF 'fix: update codex to $pinned (verified: $oldest to $newest)' '$tmp/out'" "old codex: what to do"
check "grep -qF 'fix: update codex to $oldest or later' '$tmp/out'" "missing option: what to do"

# --- the version alone decides: one release before the oldest fails, one after the newest warns
fake_version() {
	mkdir -p "$tmp/v$1"
	printf '#!/bin/sh\n[ "$1" = --version ] && echo "codex-cli %s" && exit 0\nexec "%s" "$@"\n' \
		"$1" "$real_codex" >"$tmp/v$1/codex"
	chmod +x "$tmp/v$1/codex"
}
below=$(python3 -c "v='$oldest'.split('.'); v[1]=str(int(v[1])-1); print('.'.join(v))")
above=$(python3 -c "v='$newest'.split('.'); v[1]=str(int(v[1])+1); print('.'.join(v))")
fake_version "$below"
run doctor --codex-bin "$tmp/v$below/codex"
expect_rc 1 "doctor with codex $below"
expect_line fail "codex" "codex $below is older than $oldest, the oldest version codex-switch supports" "codex $below too old"
fake_version "$oldest"
run doctor --codex-bin "$tmp/v$oldest/codex"
expect_line pass "codex" "codex-cli $oldest at" "the oldest supported version passes"
fake_version "$above"
run doctor --codex-bin "$tmp/v$above/codex"
expect_line warn "codex" "is newer than $newest, the newest version verified" "codex $above: not verified"
CODEX_SWITCH_CODEX_BIN=$tmp/old/codex run doctor
expect_rc 1 "CODEX_SWITCH_CODEX_BIN is the default codex"
expect_line fail "codex-remote" "--remote" "CODEX_SWITCH_CODEX_BIN checked"
run doctor --codex-bin "$tmp/none/codex"
expect_rc 1 "doctor with a missing codex"
expect_line fail "codex" "codex not found" "missing codex"
check "grep -qF -- '--codex-bin PATH' '$tmp/out'" "missing codex: what to do"
PATH=$tmp/nobin run doctor
expect_line fail "codex" "codex not found ('codex')" "codex not on PATH"

# --- a good set-up: two accounts, auth.json is one of them ---------------------------------
mkdir -p "$CODEX_HOME"
fake chatgpt alice@example.com user-a ws-1111 plus a1 >"$tmp/a.json"
fake chatgpt bob@example.com user-b ws-2222 pro b1 >"$tmp/b.json"
"$bin" import work --file "$tmp/a.json" >/dev/null
"$bin" import home --file "$tmp/b.json" >/dev/null
"$bin" switch work >/dev/null
before=$(tree_sums)
run doctor --codex-bin "$real_codex"
expect_rc 0 "doctor on a good set-up"
expect_line pass "store" "private (0700)" "store dir mode"
expect_line pass "accounts.json" "private (0600)" "accounts.json mode"
expect_line pass "accounts" "2 accounts (2 ChatGPT" "account count"
expect_line pass "duplicates" "no account is stored twice" "no duplicates"
expect_line pass "auth.json" "holds work (" "which account auth.json holds"
expect_line pass "tokens" "access token valid until" "token expiry in local time"
check "grep -qE 'valid until .* \(in [0-9]+d' '$tmp/out'" "token expiry has a countdown"
check "! grep -q '^fail' '$tmp/out'" "no failure on a good set-up"
check "[ \"\$(tree_sums)\" = \"\$before\" ]" "doctor changed no file"

# --- --json: the shape the README documents, no secrets ------------------------------------
run doctor --json --codex-bin "$real_codex"
expect_rc 0 "doctor --json"
check "json '
assert d[\"schema_version\"] == 1 and d[\"command\"] == \"doctor\" and d[\"ok\"] is True
assert set(d) == {\"schema_version\", \"command\", \"ok\", \"summary\", \"checks\"}, set(d)
assert set(d[\"summary\"]) == {\"pass\", \"warn\", \"fail\"} and d[\"summary\"][\"fail\"] == 0
assert d[\"summary\"][\"pass\"] == sum(c[\"status\"] == \"pass\" for c in d[\"checks\"])
for c in d[\"checks\"]:
    assert set(c) == {\"name\", \"status\", \"message\", \"hint\"}, c
    assert c[\"status\"] in (\"pass\", \"warn\", \"fail\") and c[\"message\"]
    assert c[\"hint\"] is None or isinstance(c[\"hint\"], str)
'" "doctor --json shape"
check "! grep -qE 'access-a1|refresh-a1|access-b1|refresh-b1|eyJ' '$tmp/out'" "no secret in --json"
run doctor --json --codex-bin "$tmp/old/codex"
expect_rc 1 "doctor --json with a failure"
check "json 'assert d[\"ok\"] is False and d[\"summary\"][\"fail\"] == 3'" "--json ok false"

# --- broken set-ups --------------------------------------------------------------------------
chmod 644 "$store"
run doctor --codex-bin "$real_codex"
expect_rc 1 "accounts.json readable by others"
expect_line fail "accounts.json" "has mode 644" "accounts.json mode"
check "grep -qF \"fix: chmod 600 '$store'\" '$tmp/out'" "accounts.json chmod hint"
chmod 600 "$store"

chmod 755 "$CODEX_SWITCH_HOME"
run doctor --codex-bin "$real_codex"
expect_rc 1 "store dir open"
expect_line fail "store" "has mode 755" "store dir mode"
chmod 700 "$CODEX_SWITCH_HOME"

chmod 644 "$auth"
run doctor --codex-bin "$real_codex"
expect_rc 1 "auth.json readable by others"
expect_line fail "auth.json" "has mode 644" "auth.json mode"
chmod 600 "$auth"

cp "$store" "$tmp/store.bak"
python3 - "$store" <<'PY'
import json, sys, uuid
d = json.load(open(sys.argv[1]))
# the same account as work, under the name of home
dup = dict(d["accounts"][0]); dup["id"] = str(uuid.uuid4()); dup["name"] = "home"
d["accounts"].append(dup)
d["accounts"][1]["relogin_reason"] = "refresh_token_reused"
json.dump(d, open(sys.argv[1], "w"))
PY
run doctor --codex-bin "$real_codex"
expect_rc 1 "duplicate accounts"
expect_line fail "duplicates" "are the same account" "duplicate identity"
expect_line fail "duplicates" "have the same name" "duplicate name"
check "grep -qF 'fix: delete one of them: codex-switch delete' '$tmp/out'" "duplicate hint"
expect_line warn "tokens" "home (" "a non-current account needs login: warn"
check "grep -qF 'fix: codex-switch login home --replace' '$tmp/out'" "relogin hint"
cp "$tmp/store.bak" "$store"

python3 - "$store" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["accounts"][0]["relogin_reason"] = "invalid_grant"
json.dump(d, open(sys.argv[1], "w"))
PY
run doctor --codex-bin "$real_codex"
expect_rc 1 "the current account needs login"
expect_line fail "tokens" "it is the current account" "current account needs login: fail"
cp "$tmp/store.bak" "$store"

printf '{"version": 1, "accounts": [' >"$store"
before=$(sha256sum "$store")
run doctor --codex-bin "$real_codex"
expect_rc 1 "accounts.json cannot be parsed"
expect_line fail "accounts.json" "accounts.json" "parse error names the file"
check "grep -qF 'never overwrites a file it cannot read' '$tmp/out'" "parse error hint"
check "[ \"\$(sha256sum '$store')\" = \"\$before\" ]" "broken accounts.json left alone"
cp "$tmp/store.bak" "$store"

fake chatgpt carol@example.com user-c ws-3333 plus c1 >"$auth"
chmod 600 "$auth"
run doctor --codex-bin "$real_codex"
expect_rc 0 "auth.json holds an account that is not stored"
expect_line warn "auth.json" "not stored (carol@example.com)" "unstored auth.json"
check "grep -qF 'codex-switch import <name>' '$tmp/out'" "unstored auth.json hint"
echo '{"auth_mode": "chatgpt", "tokens": 5}' >"$auth"
run doctor --codex-bin "$real_codex"
expect_rc 1 "auth.json cannot be parsed"
expect_line fail "auth.json" "auth.json" "auth.json parse error"
"$bin" switch work >/dev/null

# --- logs --------------------------------------------------------------------------------------
mkdir -p "$CODEX_SWITCH_HOME/logs"
chmod 755 "$CODEX_SWITCH_HOME/logs"
run doctor --codex-bin "$real_codex"
expect_rc 1 "logs dir open"
expect_line fail "logs" "has mode 755" "logs dir mode"
chmod 700 "$CODEX_SWITCH_HOME/logs"
old=$CODEX_SWITCH_HOME/logs/codex-switch-run-20200101-000000-h-1-0123456789abcdef0123456789abcdef.log
: >"$old"
chmod 600 "$old"
touch -d '10 days ago' "$old"
run doctor --codex-bin "$real_codex"
expect_rc 0 "old logs are a warning"
expect_line warn "logs" "1 logs are older than 7 days" "old logs"
check "grep -qF 'fix: codex-switch logs prune' '$tmp/out'" "old logs hint"
rm -f "$old"

# --- a codex app-server outside codex-switch: a warning naming it -----------------------------
"$tmp/old/codex" app-server --listen stdio:// &
outside=$!
pids+=("$outside")
ln -s /bin/sh "$tmp/old/codex-switch"
"$tmp/old/codex-switch" -c "'$tmp/old/codex' app-server --listen stdio:// & echo \$! >'$tmp/inside.pid'; wait" &
pids+=("$!")
for _ in $(seq 50); do [ -s "$tmp/inside.pid" ] && break; sleep 0.1; done
inside=$(cat "$tmp/inside.pid")
pids+=("$inside")
sleep 0.2
run doctor --codex-bin "$real_codex"
expect_rc 0 "an outside app-server is a warning, not a failure"
expect_line warn "app-server" "(pid $outside) runs outside codex-switch" "outside app-server"
check "grep -qF 'kill $outside' '$tmp/out'" "outside app-server hint"
check "! grep -qF '(pid $inside)' '$tmp/out'" "app-server under codex-switch is not reported"
kill "$outside" 2>/dev/null

# --- usage errors -----------------------------------------------------------------------------
run doctor --bogus
expect_rc 2 "unknown option"
check "grep -qF \"see 'codex-switch doctor --help'\" '$tmp/err'" "usage error points to --help"
run doctor --help
expect_rc 0 "doctor --help"
check "grep -qF 'example: codex-switch doctor' '$tmp/out'" "doctor --help has an example"

finish
