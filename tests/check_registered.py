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
    if os.path.isdir(path):
        for f in os.listdir(path):
            if f.startswith(prefix) and f.endswith(suffix):
                on_disk.add(f[len(prefix):-len(suffix)])
    for n in sorted(on_disk - registered):
        errors.append(f"tests/{folder}/{prefix}{n}{suffix} exists but is not registered")
    for n in sorted(registered - on_disk):
        errors.append(f"tests/{folder}/{prefix}{n}{suffix} is registered but missing")
if errors:
    sys.stderr.write("; ".join(errors) + "\n")
    sys.exit(1)
