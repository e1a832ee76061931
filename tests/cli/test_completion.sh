#!/usr/bin/env bash
# Shell completions load in bash, zsh and fish without errors and offer commands, options and
# the stored account names; the man page renders without warnings.
set -uo pipefail
bin=${CODEX_SWITCH_BIN:?set CODEX_SWITCH_BIN to the codex-switch binary}
here=$(cd "$(dirname "$0")" && pwd)
root=${CS_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
comp=$root/completions
tmp=$(mktemp -d /tmp/cs-cli-completion-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CODEX_SWITCH_HOME=$tmp/store CODEX_HOME=$tmp/codex HOME=$tmp/home
mkdir -p "$tmp/bin" "$HOME"
ln -s "$bin" "$tmp/bin/codex-switch"
export PATH=$tmp/bin:$PATH
. "$(dirname "$0")/lib.sh"

has() { grep -qxF -- "$2" "$1"; }

for sh in bash zsh fish man groff col; do
	if ! command -v "$sh" >/dev/null; then
		echo "FAIL: $sh is missing: run scripts/install-deps.sh --test"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

mkdir -p "$CODEX_HOME"
python3 "$here/fake_auth.py" chatgpt alice@example.com user-a ws-1111 plus a1 >"$tmp/a.json"
python3 "$here/fake_auth.py" chatgpt bob@example.com user-b ws-2222 pro b1 >"$tmp/b.json"
"$bin" import work --file "$tmp/a.json" >/dev/null
"$bin" import "side project" --file "$tmp/b.json" >/dev/null

# --- the hidden helper ---------------------------------------------------------------------
"$bin" __complete accounts >"$tmp/names" 2>"$tmp/err"
check "[ \"\$(cat '$tmp/names')\" = \"\$(printf 'work\nside project')\" ]" "__complete accounts"
check "[ ! -s '$tmp/err' ]" "__complete prints no error"
check "! '$bin' --help | grep -q __complete" "__complete is hidden from --help"
CODEX_SWITCH_HOME=$tmp/none "$bin" __complete accounts >"$tmp/names2" 2>&1
check "[ ! -s '$tmp/names2' ]" "__complete on an empty store prints nothing"

# --- bash ------------------------------------------------------------------------------------
cat >"$tmp/bash-test" <<'B'
source "$1" || exit 1
complete -p codex-switch || exit 1
try() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _codex_switch; [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"; }
echo "== switch"; try codex-switch switch ""
echo "== switch w"; try codex-switch switch w
echo "== commands"; try codex-switch ""
echo "== usage opt"; try codex-switch usage --
echo "== rename second"; try codex-switch rename work ""
echo "== logs"; try codex-switch logs ""
echo "== prune"; try codex-switch logs prune --
echo "== run opt"; try codex-switch run --
echo "== run account"; try codex-switch run --account ""
echo "== reset"; try codex-switch reset-usage ""
echo "== reset opt"; try codex-switch reset-usage --
echo "== switch opt"; try codex-switch switch --
echo "== auto opt"; try codex-switch auto-switch --
B
bash --norc --noprofile "$tmp/bash-test" "$comp/codex-switch.bash" >"$tmp/bash.out" 2>"$tmp/bash.err"
check "[ \$? = 0 ] && [ ! -s '$tmp/bash.err' ]" "bash completion loads without errors: $(cat "$tmp/bash.err")"
check "has '$tmp/bash.out' 'complete -F _codex_switch codex-switch'" "bash: complete -p"
sec() { awk -v s="== $2" '$0 == s {on=1; next} /^== / {on=0} on' "$1"; }
sec "$tmp/bash.out" switch >"$tmp/s"
check "has '$tmp/s' work && has '$tmp/s' 'side project'" "bash offers account names"
sec "$tmp/bash.out" "switch w" >"$tmp/s"
check "[ \"\$(cat '$tmp/s')\" = work ]" "bash completes a name prefix"
sec "$tmp/bash.out" commands >"$tmp/s"
check "has '$tmp/s' doctor && has '$tmp/s' logs && has '$tmp/s' auto-switch && has '$tmp/s' run" "bash offers commands"
sec "$tmp/bash.out" "usage opt" >"$tmp/s"
check "has '$tmp/s' --all && has '$tmp/s' --json" "bash offers options"
sec "$tmp/bash.out" "rename second" >"$tmp/s"
check "[ ! -s '$tmp/s' ]" "bash offers nothing for a new name"
sec "$tmp/bash.out" logs >"$tmp/s"
check "has '$tmp/s' tail && has '$tmp/s' prune" "bash offers logs actions"
sec "$tmp/bash.out" prune >"$tmp/s"
check "has '$tmp/s' --dry-run && has '$tmp/s' --days" "bash offers prune options"
sec "$tmp/bash.out" "run opt" >"$tmp/s"
check "has '$tmp/s' --account && has '$tmp/s' --codex-bin" "bash offers run --account"
sec "$tmp/bash.out" "run account" >"$tmp/s"
check "has '$tmp/s' work && has '$tmp/s' 'side project'" "bash offers accounts after run --account"
sec "$tmp/bash.out" reset >"$tmp/s"
check "has '$tmp/s' work && has '$tmp/s' 'side project'" "bash offers accounts to reset-usage"
sec "$tmp/bash.out" "reset opt" >"$tmp/s"
check "has '$tmp/s' --yes" "bash offers reset-usage --yes"
sec "$tmp/bash.out" "switch opt" >"$tmp/s"
check "has '$tmp/s' --force" "bash offers switch --force"
sec "$tmp/bash.out" "auto opt" >"$tmp/s"
check "has '$tmp/s' --force && has '$tmp/s' --dry-run" "bash offers auto-switch --force"

# --- zsh -------------------------------------------------------------------------------------
zsh -f -c "fpath=('$comp' \$fpath); autoload -Uz compinit; compinit -u -d '$tmp/zcompdump'
print -r -- \"comp=\$_comps[codex-switch]\"
source '$here/zsh_compstub.zsh'
autoload -Uz _codex-switch
print '== switch'; words=(codex-switch switch ''); CURRENT=3; _codex-switch
print '== commands'; words=(codex-switch ''); CURRENT=2; _codex-switch
print '== doctor'; words=(codex-switch doctor ''); CURRENT=3; _codex-switch
print '== file'; words=(codex-switch import x --file ''); CURRENT=5; _codex-switch
print '== run account'; words=(codex-switch run --account ''); CURRENT=4; _codex-switch
print '== reset'; words=(codex-switch reset-usage ''); CURRENT=3; _codex-switch
print '== reset opt'; words=(codex-switch reset-usage --); CURRENT=3; _codex-switch" >"$tmp/zsh.out" 2>"$tmp/zsh.err"
check "[ \$? = 0 ] && [ ! -s '$tmp/zsh.err' ]" "zsh completion loads without errors: $(cat "$tmp/zsh.err")"
check "has '$tmp/zsh.out' comp=_codex-switch" "zsh: compinit registers _codex-switch"
sec "$tmp/zsh.out" switch >"$tmp/s"
check "has '$tmp/s' work && has '$tmp/s' 'side project'" "zsh offers account names"
sec "$tmp/zsh.out" commands >"$tmp/s"
check "has '$tmp/s' doctor && has '$tmp/s' auto-switch" "zsh offers commands"
sec "$tmp/zsh.out" doctor >"$tmp/s"
check "has '$tmp/s' --json && has '$tmp/s' --codex-bin" "zsh offers options"
sec "$tmp/zsh.out" file >"$tmp/s"
check "has '$tmp/s' '<files>'" "zsh offers files after --file"
sec "$tmp/zsh.out" "run account" >"$tmp/s"
check "has '$tmp/s' work" "zsh offers accounts after run --account"
sec "$tmp/zsh.out" reset >"$tmp/s"
check "has '$tmp/s' work" "zsh offers accounts to reset-usage"
sec "$tmp/zsh.out" "reset opt" >"$tmp/s"
check "has '$tmp/s' --yes" "zsh offers reset-usage --yes"

# --- fish --------------------------------------------------------------------------------------
fish --no-config -c "source '$comp/codex-switch.fish'
echo '== switch'; complete -C 'codex-switch switch '
echo '== commands'; complete -C 'codex-switch '
echo '== second'; complete -C 'codex-switch rename work '
echo '== logs'; complete -C 'codex-switch logs '
echo '== run account'; complete -C 'codex-switch run --account '
echo '== reset'; complete -C 'codex-switch reset-usage '
echo '== reset opt'; complete -C 'codex-switch reset-usage --'" >"$tmp/fish.out" 2>"$tmp/fish.err"
check "[ \$? = 0 ] && [ ! -s '$tmp/fish.err' ]" "fish completion loads without errors: $(cat "$tmp/fish.err")"
sec "$tmp/fish.out" switch | cut -f1 >"$tmp/s"
check "has '$tmp/s' work && has '$tmp/s' 'side project'" "fish offers account names"
sec "$tmp/fish.out" commands | cut -f1 >"$tmp/s"
check "has '$tmp/s' doctor && has '$tmp/s' logs && has '$tmp/s' switch" "fish offers commands"
sec "$tmp/fish.out" second | cut -f1 >"$tmp/s"
check "! has '$tmp/s' work" "fish offers no account for a new name"
sec "$tmp/fish.out" logs | cut -f1 >"$tmp/s"
check "has '$tmp/s' tail && has '$tmp/s' prune" "fish offers logs actions"
sec "$tmp/fish.out" "run account" | cut -f1 >"$tmp/s"
check "has '$tmp/s' work" "fish offers accounts after run --account"
sec "$tmp/fish.out" reset | cut -f1 >"$tmp/s"
check "has '$tmp/s' work" "fish offers accounts to reset-usage"
sec "$tmp/fish.out" "reset opt" | cut -f1 >"$tmp/s"
check "has '$tmp/s' --yes" "fish offers reset-usage --yes"

# --- the man page --------------------------------------------------------------------------------
page=$root/man/codex-switch.1
MANWIDTH=80 man --warnings -l "$page" 2>"$tmp/man.err" | col -b >"$tmp/man.txt"
check "[ ! -s '$tmp/man.err' ]" "man -l renders without warnings: $(cat "$tmp/man.err")"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OUTPUT "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
	check "has '$tmp/man.txt' '$s'" "man page has section $s"
done
for c in run list login usage reset-usage import export switch rename delete enable disable auto-switch doctor logs; do
	check "grep -qE '^ +codex-switch (.*[ |])?$c( |\\||$)' '$tmp/man.txt'" "man synopsis names $c"
done
check "grep -q NO_COLOR '$tmp/man.txt' && grep -q schema_version '$tmp/man.txt'" "man page: output conventions"
groff -man -ww -z "$page" 2>"$tmp/groff.err"
check "[ ! -s '$tmp/groff.err' ]" "groff -ww has no warnings: $(cat "$tmp/groff.err")"

finish
