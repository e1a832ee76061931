#!/usr/bin/env bash
# Odd files in the store and in CODEX_HOME. Files that are not regular files (a FIFO): every
# command that reads them fails at once with a clear message instead of waiting for a writer
# forever. Temp files left by killed writers (they hold tokens): doctor reports them and the
# next write removes them, but never the temp file of a writer still at work.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/cs-cli-odd-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
unset NO_COLOR
store=$CODEX_SWITCH_HOME/accounts.json
auth=$CODEX_HOME/auth.json
. "$(dirname "$0")/lib.sh"
fake() { python3 "$here/fake_auth.py" "$@"; }

# run_bounded CMD...: like run, but a hang ends after 10 s with exit 124.
run_bounded() {
	timeout 10 "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}
# expect_fifo_error DESCRIPTION: the command ended quickly with an error naming the FIFO.
expect_fifo_error() {
	if [ "$rc" = 124 ]; then
		bad "$1: hung on the FIFO"
	elif [ "$rc" = 0 ]; then
		bad "$1: succeeded on a FIFO"
	elif ! grep -qF "not a regular file" "$tmp/err" "$tmp/out"; then
		bad "$1: no 'not a regular file' in: $(cat "$tmp/err" "$tmp/out")"
	else
		ok
	fi
}

mkdir -p "$CODEX_HOME"
fake chatgpt alice@example.com user-a ws-11111111-aaaa plus a1 >"$auth"
run import work
expect_rc 0 "import a first account"
fake chatgpt bob@example.com user-b ws-22222222-bbbb plus b1 >"$tmp/bob.json"
run import bob --file "$tmp/bob.json"
expect_rc 0 "import a second account"

# --- accounts.json is a FIFO ---------------------------------------------------------------
mv "$store" "$tmp/accounts.saved"
mkfifo -m 600 "$store"
run_bounded list
expect_fifo_error "list with accounts.json a FIFO"
run_bounded switch bob
expect_fifo_error "switch with accounts.json a FIFO"
run_bounded import carol --file "$tmp/bob.json"
expect_fifo_error "import with accounts.json a FIFO"
run_bounded doctor
check "[ '$rc' != 124 ] && [ '$rc' != 0 ]" "doctor with accounts.json a FIFO ends with an error (exit $rc)"
check "grep -qF 'not a regular file' '$tmp/out' '$tmp/err'" "doctor names the FIFO: $(cat "$tmp/out")"
check "[ -p '$store' ]" "the FIFO is left alone"
rm "$store"
mv "$tmp/accounts.saved" "$store"

# --- auth.json is a FIFO -------------------------------------------------------------------
mv "$auth" "$tmp/auth.saved"
mkfifo -m 600 "$auth"
run_bounded import carol
expect_fifo_error "import with auth.json a FIFO"
run_bounded doctor
check "[ '$rc' != 124 ]" "doctor with auth.json a FIFO does not hang"
check "grep -qF 'not a regular file' '$tmp/out' '$tmp/err'" "doctor names the auth.json FIFO: $(cat "$tmp/out")"
run_bounded list
check "[ '$rc' != 124 ]" "list with auth.json a FIFO does not hang (exit $rc)"
run_bounded switch bob
check "[ '$rc' != 124 ]" "switch with auth.json a FIFO does not hang (exit $rc)"
rm -f "$auth"
mv "$tmp/auth.saved" "$auth"

# --- config files are FIFOs ----------------------------------------------------------------
mkfifo -m 600 "$CODEX_SWITCH_HOME/config.json"
run_bounded list
check "[ '$rc' != 124 ]" "list with config.json a FIFO does not hang (exit $rc)"
run_bounded doctor
check "[ '$rc' != 124 ]" "doctor with config.json a FIFO does not hang (exit $rc)"
run_bounded switch bob
check "[ '$rc' != 124 ]" "switch with config.json a FIFO does not hang (exit $rc)"
rm "$CODEX_SWITCH_HOME/config.json"
mkfifo -m 600 "$CODEX_HOME/config.toml"
run_bounded doctor
check "[ '$rc' != 124 ]" "doctor with config.toml a FIFO does not hang (exit $rc)"
run_bounded switch bob
check "[ '$rc' != 124 ]" "switch with config.toml a FIFO does not hang (exit $rc)"
rm "$CODEX_HOME/config.toml"

# --- temp files of killed writers ----------------------------------------------------------
# plant NAME UUID: a temp file as a writer killed an hour ago leaves it.
plant() {
	local f="$1/.$2.$3.tmp"
	cp "$1/$2" "$f"
	touch -d '1 hour ago' "$f"
	echo "$f"
}
dead_store=$(plant "$CODEX_SWITCH_HOME" accounts.json 11111111-1111-4111-8111-111111111111)
dead_auth=$(plant "$CODEX_HOME" auth.json 22222222-2222-4222-8222-222222222222)
young=$(plant "$CODEX_SWITCH_HOME" accounts.json 33333333-3333-4333-8333-333333333333)
touch "$young" # a writer may be writing it right now
run doctor
check "grep -qF '1 temp file of interrupted writes of' '$tmp/out'" "doctor reports the store's leftover: $(cat "$tmp/out")"
check "grep -F '$dead_store' '$tmp/out' | grep -q '^warn'" "doctor names the store's leftover"
check "grep -F '$dead_auth' '$tmp/out' | grep -q '^warn'" "doctor names auth.json's leftover"
check "[ -e '$dead_store' ] && [ -e '$dead_auth' ]" "doctor removes nothing"
run rename bob robert
expect_rc 0 "rename after a killed write"
check "[ ! -e '$dead_store' ]" "the next store write removed the dead writer's temp file"
check "[ -e '$young' ]" "a fresh temp file (a live writer's) is kept"
check "[ -e '$dead_auth' ]" "auth.json's leftover waits for a write of auth.json"
run switch robert
expect_rc 0 "switch after a killed write"
check "[ ! -e '$dead_auth' ]" "writing auth.json removed its dead writer's temp file"
rm -f "$young"
run doctor
check "! grep -qF 'temp file' '$tmp/out'" "doctor is quiet once they are gone: $(cat "$tmp/out")"

finish
