#!/usr/bin/env python3
"""Prints 'N passed, N failed' from meson's testlog.json (skips count as failures in CI)."""
import json
import sys

passed = failed = 0
try:
    with open(sys.argv[1]) as f:
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
    print(f"cannot read '{sys.argv[1]}': {e.strerror}")
    failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
