#!/usr/bin/env bash
# Every command listed by --help has its own --help with an example, and a usage error says
# what went wrong and where to look (exit 2).
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
tmp=$(mktemp -d /tmp/cs-cli-help-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex
. "$(dirname "$0")/lib.sh"

"$bin" --help >"$tmp/top"
commands=$(awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1} /^$/ {on=0}' "$tmp/top")
for c in run list login usage reset-usage import export switch rename delete enable disable doctor logs; do
	grep -qx "$c" <<<"$commands" && ok || bad "--help does not list $c"
done
for c in $commands; do
	"$bin" "$c" --help >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 0 ] && ok || bad "$c --help exits $rc"
	grep -qE "^usage: codex-switch $c" "$tmp/out" && ok || bad "$c --help has no usage line"
	grep -qE "^ *(example|examples):? *(codex|$)" "$tmp/out" && grep -qE "codex-switch $c" \
		<(sed -n '/^examples\?:/,$p' "$tmp/out") && ok || bad "$c --help has no example"
	[ "$c" = run ] && continue # run passes unknown options on to codex
	"$bin" "$c" --no-such-option >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 2 ] && ok || bad "$c --no-such-option exits $rc, wanted 2"
	grep -qF "codex-switch $c --help" "$tmp/err" && ok || bad "$c: usage error does not point to --help: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] && ok || bad "$c: usage error printed to stdout"
done
"$bin" frobnicate >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] && grep -qF "codex-switch --help" "$tmp/err" && ok || bad "unknown command"
[ ! -e "$CODEX_SWITCH_HOME" ] && ok || bad "--help and usage errors created the store"

finish
