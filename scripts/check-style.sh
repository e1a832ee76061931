#!/usr/bin/env bash
# Style gate: clang-format (the committed .clang-format is the authority) and banned functions.
set -uo pipefail
root=${CS_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
status=0
files=$(find src tests bench -name '*.[ch]' -not -path '*/corpus/*' | sort)
if ! clang-format --dry-run -Werror $files; then
	echo "style: run 'clang-format -i' on the files above"
	status=1
fi
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|tmpnam|system|popen|rand)[[:space:]]*\('
if grep -nE "$banned" src/*/*.c src/*/*.h bench/*.c bench/*.h; then
	echo "style: banned functions in src/ (see README, 'Code style')"
	status=1
fi
if grep -nE '^[[:space:]]*assert[[:space:]]*\(' src/*/*.c; then
	echo "style: assert() in non-test code"
	status=1
fi
exit $status
