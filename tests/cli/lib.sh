# Shared by the tests/cli scripts (sourced after they set bin and tmp): counting checks, running
# codex-switch, and the summary line meson and CI read.
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

# run CMD...: runs codex-switch, keeping stdout, stderr and the exit status.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
expect_rc() { if [ "$rc" = "$1" ]; then ok; else bad "$2: exit $rc, wanted $1 ($(cat "$tmp/err"))"; fi; }

# The last line is the verdict; the exit status says the same.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
