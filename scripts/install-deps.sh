#!/usr/bin/env bash
# Installs what codex-switch needs on Debian (bookworm or later).
#   scripts/install-deps.sh          build and run dependencies, and codex itself if missing
#   scripts/install-deps.sh --test   also the test dependencies and, for the tests, the pinned
#                                    codex in .deps/codex and the oldest supported and newest
#                                    verified ones in .deps/codex-<version>
#   CS_CODEX_VERSION=V               also codex V in .deps/codex-V (the tests then run it)
# The versions are in scripts/codex-versions.
set -euo pipefail

WS_VERSION=8.18.3
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/codex-versions"
CODEX_VERSION=$CODEX_PINNED
case "${CS_CODEX_VERSION:-}" in
*[!0-9A-Za-z.-]*)
	echo "CS_CODEX_VERSION='$CS_CODEX_VERSION' is not a version (e.g. $CODEX_NEWEST)" >&2
	exit 2
	;;
esac
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

# install_codex VERSION DIR: that exact codex, inside the checkout, unless it is there already.
install_codex() {
	if [ "$("$2/node_modules/.bin/codex" --version 2>/dev/null)" != "codex-cli $1" ]; then
		mkdir -p "$2"
		npm install --silent --no-audit --no-fund --prefix "$2" "@openai/codex@$1" >/dev/null
	fi
	"$2/node_modules/.bin/codex" --version
}

if [ "$want_tests" = 1 ]; then
	# The tests run these exact codex versions, never a global one.
	install_codex "$CODEX_PINNED" "$here/.deps/codex"
	for v in $(printf '%s\n' "$CODEX_OLDEST" "$CODEX_NEWEST" "${CS_CODEX_VERSION:-}" | sort -u); do
		[ "$v" = "$CODEX_PINNED" ] || install_codex "$v" "$here/.deps/codex-$v"
	done
	# The RFC 6455 conformance test compares the proxy with this WebSocket implementation.
	ws="$here/.deps/ws"
	if [ "$(node -p "require('$ws/node_modules/ws/package.json').version" 2>/dev/null)" != "$WS_VERSION" ]; then
		mkdir -p "$ws"
		npm install --silent --no-audit --no-fund --prefix "$ws" "ws@$WS_VERSION" >/dev/null
	fi
elif ! command -v codex >/dev/null 2>&1; then
	$sudo npm install --silent --no-audit --no-fund -g "@openai/codex@$CODEX_VERSION" >/dev/null
fi
