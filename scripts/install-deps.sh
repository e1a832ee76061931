#!/usr/bin/env bash
# Installs what codex-switch needs on Debian (bookworm or later).
#   scripts/install-deps.sh          build and run dependencies, and codex itself if missing
#   scripts/install-deps.sh --test   also the test dependencies and the pinned codex for tests
set -euo pipefail

CODEX_VERSION=0.169.0
WS_VERSION=8.18.3
here=$(cd "$(dirname "$0")/.." && pwd)
want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

pkgs=(gcc pkg-config meson ninja-build libwebsockets-dev libcjson-dev libcurl4-openssl-dev
	uuid-dev libssl-dev nodejs npm)
if [ "$want_tests" = 1 ]; then
	pkgs+=(libcmocka-dev clang-format python3 openssl procps iproute2 clang libclang-rt-dev)
	# completion, man page and terminal-output tests
	pkgs+=(zsh fish man-db groff-base bsdextrautils bsdutils)
	# the real TUI under tmux (tests/integration/tui.py); zstd decodes codex's request bodies
	pkgs+=(tmux zstd)
fi

missing=()
for p in "${pkgs[@]}"; do
	# Node from another source (e.g. a vendor nodejs package that bundles npm) is fine, and
	# Debian's npm package cannot be installed next to it.
	case "$p" in
	nodejs | npm) command -v "$p" >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

if [ "$want_tests" = 1 ]; then
	# The tests run this exact codex, installed inside the checkout, never a global one.
	dir="$here/.deps/codex"
	if [ "$("$dir/node_modules/.bin/codex" --version 2>/dev/null)" != "codex-cli $CODEX_VERSION" ]; then
		mkdir -p "$dir"
		npm install --silent --no-audit --no-fund --prefix "$dir" "@openai/codex@$CODEX_VERSION" >/dev/null
	fi
	"$dir/node_modules/.bin/codex" --version
	# The RFC 6455 conformance test compares the proxy with this WebSocket implementation.
	ws="$here/.deps/ws"
	if [ "$(node -p "require('$ws/node_modules/ws/package.json').version" 2>/dev/null)" != "$WS_VERSION" ]; then
		mkdir -p "$ws"
		npm install --silent --no-audit --no-fund --prefix "$ws" "ws@$WS_VERSION" >/dev/null
	fi
elif ! command -v codex >/dev/null 2>&1; then
	$sudo npm install --silent --no-audit --no-fund -g "@openai/codex@$CODEX_VERSION" >/dev/null
fi
