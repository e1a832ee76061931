#!/usr/bin/env bash
# Installs the dependencies, builds codex-switch and installs it (default prefix /usr/local).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cd "$here"
[ -d build ] || meson setup build --buildtype=release -Dtests=disabled
meson compile -C build
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo meson install -C build --quiet
