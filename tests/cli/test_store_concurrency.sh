#!/usr/bin/env bash
# The store under concurrent writers and crashes: nothing is lost, a dead lock owner blocks no
# one for long, and a writer killed at any moment leaves a valid accounts.json.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/cs-cli-concurrency-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
store=$CODEX_SWITCH_HOME/accounts.json
lock=$CODEX_SWITCH_HOME/accounts.lock
. "$(dirname "$0")/lib.sh"

fake() { python3 "$here/fake_auth.py" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
valid_store() { python3 -c "import json; d = json.load(open('$store')); assert d['version'] == 1" \
	2>/dev/null; }
names() { python3 -c "import json; print(' '.join(sorted(a['name'] for a in json.load(open('$store'))['accounts'])))"; }
id_of() { python3 -c "import json; print([a['id'] for a in json.load(open('$store'))['accounts'] if a['name'] == '$1'][0])"; }

# Runs a mutating command and fails when it takes longer than max_ms.
timed() { # timed MAX_MS DESCRIPTION CMD... (a bound against blocking, loose enough for a busy CI box)
	local max=$1 what=$2 start took
	shift 2
	start=$(now_ms)
	"$bin" "$@" >/dev/null 2>"$tmp/err"
	local rc=$?
	took=$(($(now_ms) - start))
	if [ $rc = 0 ] && [ $took -le "$max" ]; then ok; else bad "$what: exit $rc after $took ms ($(cat "$tmp/err"))"; fi
}

mkdir -p "$CODEX_HOME"
for i in 0 1 2 3 4; do
	fake chatgpt "base$i@example.com" "user-base-$i" "ws-base-$i" plus "base$i" >"$tmp/base$i.json"
	"$bin" import "a$i" --file "$tmp/base$i.json" >/dev/null || bad "setup import a$i"
done
for i in $(seq 0 9); do
	fake chatgpt "new$i@example.com" "user-new-$i" "ws-new-$i" pro "new$i" >"$tmp/new$i.json"
done

# --- 30 processes at once: 10 imports, 5 renames, 5 disables, 10 readers ----------------
pids=()
for i in $(seq 0 9); do
	"$bin" import "n$i" --file "$tmp/new$i.json" >/dev/null 2>"$tmp/import$i.err" &
	pids+=($!)
done
for i in 0 1 2 3 4; do
	id=$(id_of "a$i")
	"$bin" rename "$id" "r$i" >/dev/null 2>"$tmp/rename$i.err" &
	pids+=($!)
	"$bin" disable "$id" >/dev/null 2>"$tmp/disable$i.err" &
	pids+=($!)
done
for i in $(seq 0 9); do
	"$bin" list --json >"$tmp/list$i.out" 2>"$tmp/list$i.err" &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
check "[ $status = 0 ]" "every concurrent command succeeded ($(cat "$tmp"/*.err))"
check "[ \"\$(names)\" = 'n0 n1 n2 n3 n4 n5 n6 n7 n8 n9 r0 r1 r2 r3 r4' ]" \
	"no import or rename lost: $(names)"
check "python3 -c \"
import json; d = json.load(open('$store'))
assert all(a['auto_switch_disabled'] == a['name'].startswith('r') for a in d['accounts'])
\"" "every disable kept, nothing else disabled"
for i in $(seq 0 9); do
	check "python3 -c \"import json; assert json.load(open('$tmp/list$i.out'))['schema_version'] == 1\"" \
		"concurrent reader $i saw a whole file"
done
check "[ ! -e '$lock' ]" "no lock left behind"

# --- a lock left by a dead process is reclaimed at once ----------------------------------
# Where this process runs, as a lock records it: a pid means something only there.
place=$(printf 'host=%s\nboot_id=%s\npid_ns=%s\n' "$(uname -n)" \
	"$(cat /proc/sys/kernel/random/boot_id)" "$(readlink /proc/self/ns/pid)")
sh -c 'exit 0' &
dead=$!
wait "$dead"
printf 'lock_id=0b7c6ad2-7a0e-4f43-a1a4-3f3b1b0d2c11\npid=%s\ncreated_at=2026-05-01T00:00:00Z\n%s\n' \
	"$dead" "$place" >"$lock"
timed 8000 "rename with a dead owner's lock" rename r0 s0
check "[ ! -e '$lock' ]" "reclaimed lock released"
: >"$lock"
touch -d '1 minute ago' "$lock"
timed 8000 "rename with an old empty lock" rename s0 r0
# The Rust codex-switch's lock has no place: its dead pid is trusted only once it is old.
printf 'lock_id=0b7c6ad2-7a0e-4f43-a1a4-3f3b1b0d2c11\npid=%s\ncreated_at=2026-05-01T00:00:00Z' \
	"$dead" >"$lock"
touch -d '10 minutes ago' "$lock"
timed 8000 "rename with an old lock of the Rust version" rename r0 s0
check "[ ! -e '$lock' ]" "old Rust lock reclaimed and released"
"$bin" rename s0 r0 >/dev/null || bad "rename back"

# --- a process killed while it holds the lock -------------------------------------------
# The victim writes a lock as codex-switch does, with its own pid, and is killed with it held.
sh -c 'printf "lock_id=1b7c6ad2-7a0e-4f43-a1a4-3f3b1b0d2c11\npid=%s\ncreated_at=2026-05-01T00:00:00Z\n%s\n" \
	"$$" "$1" >"$2" && exec sleep 60' victim "$place" "$lock" &
victim=$!
for _ in $(seq 1 200); do
	grep -q "pid=$victim" "$lock" 2>/dev/null && break
	sleep 0.02
done
check "grep -q 'pid=$victim' '$lock'" "the victim holds the lock"
{
	kill -9 "$victim"
	wait "$victim"
} 2>/dev/null
timed 8000 "command after the lock owner was killed" enable r1
check "[ ! -e '$lock' ]" "lock released after the reclaim"

# --- an empty accounts.lock never appears, whenever a command is killed --------------------
for i in $(seq 1 40); do
	"$bin" disable n2 >/dev/null 2>&1 &
	victim=$!
	sleep "0.00$((RANDOM % 10))"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null
	if [ -e "$lock" ] && [ ! -s "$lock" ]; then
		bad "an empty lock after kill $i"
		break
	fi
	rm -f "$lock"
done
ok

# --- crash safety: writers killed at random moments ---------------------------------------
for i in $(seq 1 40); do
	if [ $((i % 2)) = 0 ]; then op=disable; else op=enable; fi
	"$bin" "$op" n3 >/dev/null 2>&1 &
	victim=$!
	sleep "0.00$((RANDOM % 10))"
	kill -9 "$victim" 2>/dev/null
	wait "$victim" 2>/dev/null
	if ! valid_store; then
		bad "accounts.json invalid after kill $i"
		break
	fi
done
ok
check "[ \"\$(names)\" = 'n0 n1 n2 n3 n4 n5 n6 n7 n8 n9 r0 r1 r2 r3 r4' ]" \
	"no account lost to a crash: $(names)"
# Temp files the kills left are removed by the next write once past their grace period.
for f in "$CODEX_SWITCH_HOME"/.accounts.*.tmp; do
	[ -e "$f" ] && touch -d '1 minute ago' "$f"
done
timed 8000 "command after the crash loop" rename n3 n3-final
check "! ls -A '$CODEX_SWITCH_HOME' | grep -q '\.tmp\$'" "no temp file of a killed writer is left: $(ls -A "$CODEX_SWITCH_HOME")"
check "[ \"\$(stat -c %a '$store')\" = 600 ]" "accounts.json still 0600"

finish
