#!/usr/bin/env python3
"""Prints 'N passed, N failed' from meson testlog.json files (skips count as failures in CI).
    test-summary.py LOG.json [LOG.json ...] [--extra PASSED,FAILED]
--extra adds results counted elsewhere (the fuzzers)."""
import json
import sys

passed = failed = 0
args = sys.argv[1:]
while args:
    arg = args.pop(0)
    if arg == "--extra":
        p, _, f = args.pop(0).partition(",")
        passed += int(p or 0)
        failed += int(f or 0)
        continue
    try:
        with open(arg) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                else:
                    failed += 1
    except OSError as e:
        print(f"cannot read '{arg}': {e.strerror}")
        failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
