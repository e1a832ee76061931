#!/usr/bin/env bash
# Store, auth.json and config files that are not regular files (a FIFO): every command that
# reads them must fail at once with a clear message instead of waiting for a writer forever.
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

finish
