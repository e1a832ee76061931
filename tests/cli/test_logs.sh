#!/usr/bin/env bash
# Run logs and `codex-switch logs`: one private file per run in a private directory, the level
# from CODEX_SWITCH_LOG, redaction, escaping, codex args summarised, pruning after 7 days, and
# the path/latest/tail/prune actions with their errors.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/cs-cli-logs-XXXXXX)
follower=
cleanup() {
	[ -n "$follower" ] && kill "$follower" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
unset CODEX_SWITCH_LOG CODEX_SWITCH_CODEX_BIN
logs=$CODEX_SWITCH_HOME/logs
. "$(dirname "$0")/lib.sh"

newest() { ls "$logs" | grep '^codex-switch-run-' | sort | tail -n 1; }
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); $1"; }

# --- logs before any run -------------------------------------------------------------------
run logs path
expect_rc 0 "logs path"
check "[ \"\$(cat '$tmp/out')\" = '$logs' ]" "logs path prints the directory"
run logs latest
expect_rc 1 "logs latest without a log"
check "grep -qF \"'codex-switch run' writes one\" '$tmp/err'" "no log: says where logs come from"
run logs tail
expect_rc 1 "logs tail without a log"

# --- a run that cannot start still leaves its log ------------------------------------------
run run -- -m gpt-5 "my very secret prompt"
expect_rc 1 "run with an empty store"
name=$(newest)
check "[ -n '$name' ]" "run wrote a log"
log=$logs/$name
check "[[ '$name' =~ ^codex-switch-run-[0-9]{8}-[0-9]{6}-[A-Za-z0-9._-]+-[0-9]+-[0-9a-f]{32}\\.log\$ ]]" "log name pattern: $name"
check "[ \"\$(stat -c %a '$logs')\" = 700 ]" "logs dir is 0700"
check "[ \"\$(stat -c %a '$log')\" = 600 ]" "log file is 0600"
check "grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z INFO  codex-switch .* run: codex interactive \(3 args\)' '$log'" "log has a timestamp and the args summary"
check "grep -qF 'ERROR no account is stored' '$log'" "the error is in the log"
check "! grep -qF 'secret prompt' '$log'" "codex args are not copied into the log"
check "! grep -qF 'gpt-5' '$log'" "codex options are not copied into the log"

# --- level from CODEX_SWITCH_LOG --------------------------------------------------------------
sleep 1 # names carry the second: keep them ordered
CODEX_SWITCH_LOG=error run run
log=$logs/$(newest)
check "[ '$log' != '$logs/$name' ]" "a second run writes a second log"
check "grep -qF 'ERROR no account is stored' '$log'" "error level keeps errors"
check "! grep -qF 'INFO' '$log'" "error level drops info"

# --- redaction and control characters ---------------------------------------------------------
mkdir -p "$CODEX_HOME"
python3 "$here/fake_auth.py" chatgpt alice@example.com user-a ws-1111 plus a1 >"$tmp/a.json"
"$bin" import work --file "$tmp/a.json" >/dev/null
sleep 1
jwtish='eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0'
run run --codex-bin "$(printf '/nonexistent/%s\033[2J/codex' "$jwtish")"
expect_rc 1 "run with a missing codex"
log=$logs/$(newest)
check "grep -qF 'cannot start' '$log'" "start failure logged"
check "! grep -qF '$jwtish' '$log'" "a JWT-shaped string is redacted"
check "grep -qF '<redacted>' '$log'" "redaction marker"
check "grep -qF '\\x1b[2J' '$log' && ! grep -q \$'\\033' '$log'" "control characters escaped"
check "! grep -qE 'access-a1|refresh-a1' '$log'" "no token in the log"

# --- latest and tail --------------------------------------------------------------------------
run logs latest
expect_rc 0 "logs latest"
check "[ \"\$(cat '$tmp/out')\" = '$log' ]" "latest is the newest run's log"
run logs latest --json
check "json 'assert d == {\"schema_version\": 1, \"command\": \"logs latest\", \"path\": \"$log\"}'" "logs latest --json"
run logs path --json
check "json 'assert d == {\"schema_version\": 1, \"command\": \"logs path\", \"path\": \"$logs\"}'" "logs path --json"
printf 'line one\nline two\nline three\n' >>"$log"
run logs tail -n 2
expect_rc 0 "logs tail -n 2"
check "[ \"\$(cat '$tmp/out')\" = \"\$(printf 'line two\nline three')\" ]" "tail prints the last 2 lines"
run logs tail --lines 1
check "[ \"\$(cat '$tmp/out')\" = 'line three' ]" "tail --lines 1"

"$bin" logs tail -n 1 --follow >"$tmp/follow" 2>&1 &
follower=$!
sleep 0.5
echo "appended later" >>"$log"
for _ in $(seq 50); do grep -q 'appended later' "$tmp/follow" && break; sleep 0.1; done
check "grep -q 'appended later' '$tmp/follow'" "tail --follow prints new lines"
check "kill -0 $follower" "tail --follow keeps running"
kill "$follower"
wait "$follower" 2>/dev/null
follower=

# --- prune --------------------------------------------------------------------------------------
old1=$logs/codex-switch-run-20200101-000000-h-1-00000000000000000000000000000001.log
old2=$logs/codex-switch-run-20200102-000000-h-1-00000000000000000000000000000002.log
mid=$logs/codex-switch-run-20200103-000000-h-1-00000000000000000000000000000003.log
other=$logs/notes.txt
for f in "$old1" "$old2" "$mid" "$other"; do echo x >"$f"; chmod 600 "$f"; done
touch -d '10 days ago' "$old1" "$old2" "$other"
touch -d '3 days ago' "$mid"
run logs prune --dry-run
expect_rc 0 "prune --dry-run"
check "grep -qF 'would delete $old1' '$tmp/out' && grep -qF 'would delete $old2' '$tmp/out'" "dry run lists old logs"
check "[ -e '$old1' ] && [ -e '$old2' ]" "dry run deletes nothing"
run logs prune --days 1 --dry-run --json
check "json 'assert d[\"schema_version\"] == 1 and d[\"command\"] == \"logs prune\" and d[\"dry_run\"] is True and d[\"days\"] == 1 and d[\"count\"] == 3 and len(d[\"logs\"]) == 3'" "prune --json"
run logs prune
expect_rc 0 "prune"
check "[ ! -e '$old1' ] && [ ! -e '$old2' ]" "old logs pruned"
check "[ -e '$mid' ] && [ -e '$other' ] && [ -e '$log' ]" "newer logs and other files kept"
run logs prune
check "grep -qF 'no run log is older than 7 days' '$tmp/out'" "nothing to prune says so"

# A run prunes logs older than 7 days by itself, never its own.
echo x >"$old1"
touch -d '8 days ago' "$old1"
sleep 1
run run --codex-bin /nonexistent/codex
check "[ ! -e '$old1' ]" "run pruned a log older than 7 days"
check "[ -e '$mid' ]" "run kept a 3-day-old log"
check "[ -e '$logs/$(newest)' ] && [ '$logs/$(newest)' != '$mid' ]" "run kept its own log"

# --- usage errors -------------------------------------------------------------------------------
run logs
expect_rc 2 "logs without an action"
check "grep -qF 'path, latest, tail or prune' '$tmp/err'" "logs without action lists actions"
run logs frob
expect_rc 2 "unknown action"
run logs prune --days 0
expect_rc 2 "prune --days 0"
check "grep -qF 'at least 1' '$tmp/err'" "--days 0 says the minimum"
run logs tail -n abc
expect_rc 2 "tail -n abc"
run logs path --follow
expect_rc 2 "--follow with path"
run logs --help
expect_rc 0 "logs --help"
check "grep -qF 'example: codex-switch logs' '$tmp/out'" "logs --help has an example"

finish
