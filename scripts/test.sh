#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds, runs every test, checks style,
# runs the whole suite again in an ASan+UBSan build (leaks checked at every exit, so the
# integration tests of `run` are leak-checked too), runs every fuzzer for its CI budget, and ends
# with the line "N passed, N failed".
#   CS_FUZZ_SECONDS  seconds per fuzzer (default 60; 0 skips fuzzing)
#   CS_NO_SANITIZE=1 skips the sanitizer suite (local quick runs only)
#   CS_CODEX_VERSION the codex the whole suite runs (default: the pinned one); the tests that
#                    drive the real codex (suite realcodex) run again on each other version of
#                    scripts/codex-versions (oldest supported, pinned, newest verified)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${CS_TEST_BUILD_DIR:-build-test}
asan=${CS_ASAN_BUILD_DIR:-build-asan}
fuzz_secs=${CS_FUZZ_SECONDS:-60}

if ! scripts/install-deps.sh --test; then
	echo "cannot install the test dependencies"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=debugoptimized -Dtests=enabled -Dbench=enabled || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$build"; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
logs=("$build/meson-logs/testlog.json")

. scripts/codex-versions
main_codex=${CS_CODEX_VERSION:-$CODEX_PINNED}
for v in $(printf '%s\n' "$CODEX_OLDEST" "$CODEX_PINNED" "$CODEX_NEWEST" | sort -u); do
	[ "$v" = "$main_codex" ] && continue
	echo "== the tests that drive the real codex again, on codex $v =="
	CS_CODEX_VERSION=$v meson test -C "$build" --print-errorlogs --num-processes 2 \
		--suite realcodex --logbase "testlog-codex-$v"
	logs+=("$build/meson-logs/testlog-codex-$v.json")
done

if [ "${CS_NO_SANITIZE:-0}" != 1 ]; then
	echo "== the whole suite again with AddressSanitizer, LeakSanitizer and UBSan =="
	if [ ! -f "$asan/build.ninja" ]; then
		meson setup "$asan" --buildtype=debugoptimized -Dtests=enabled -Db_sanitize=address,undefined \
			-Db_lundef=false >/dev/null
	fi
	if meson compile -C "$asan" >/dev/null; then
		# Any report fails the test that triggered it: a leak at exit makes the process exit
		# 23, an error aborts. Children that are not ours (codex) are not instrumented.
		ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23:detect_stack_use_after_return=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			meson test -C "$asan" --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@"
		logs+=("$asan/meson-logs/testlog.json")
	else
		echo "sanitizer build failed"
		logs+=("/nonexistent/sanitizer-build-failed")
	fi
fi

extra=0,0
if [ "$fuzz_secs" != 0 ]; then
	echo "== fuzzers, ${fuzz_secs}s each =="
	scripts/fuzz -t "$fuzz_secs" -j 2 | tee "$build/fuzz.log"
	ok=$(grep -c '^fuzz [a-z_]*: ok' "$build/fuzz.log")
	bad=$(grep -c '^fuzz [a-z_]*: FAILED\|^fuzz: build failed\|^fuzz: no harness' "$build/fuzz.log")
	[ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && bad=1
	extra="$ok,$bad"
fi
python3 scripts/test-summary.py "${logs[@]}" --extra "$extra"
