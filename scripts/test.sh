#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds, runs every test, checks style,
# and ends with the line "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${CS_TEST_BUILD_DIR:-build-test}

if ! scripts/install-deps.sh --test; then
	echo "cannot install the test dependencies"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=debugoptimized || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$build"; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
status=$?
python3 scripts/test-summary.py "$build/meson-logs/testlog.json" || status=1
exit $status
