#!/usr/bin/env python3
"""Fails when a test file on disk is not registered in tests/meson.build, or the reverse."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = {"unit": ("unit", "test_", ".c"), "cli": ("cli", "test_", ".sh"),
         "integration": ("integration", "test_", ".py")}

errors = []
for arg in sys.argv[1:]:
    kind, _, names = arg.partition(":")
    registered = {n for n in names.split(",") if n}
    folder, prefix, suffix = KINDS[kind]
    path = os.path.join(HERE, folder)
    on_disk = set()
    # Unit tests mirror src/: tests/unit/<folder>/test_<module>.c, registered as <folder>/<module>.
    for root, _, files in os.walk(path):
        rel = os.path.relpath(root, path)
        for f in files:
            if f.startswith(prefix) and f.endswith(suffix):
                n = f[len(prefix):-len(suffix)]
                on_disk.add(n if rel == "." else rel + "/" + n)
    for n in sorted(on_disk - registered):
        errors.append(f"tests/{folder}/{n} exists but is not registered")
    for n in sorted(registered - on_disk):
        errors.append(f"tests/{folder}/{n} is registered but missing")
if errors:
    sys.stderr.write("; ".join(errors) + "\n")
    sys.exit(1)
