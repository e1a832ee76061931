# Stand-ins for the zsh completion builtins, so a test can call a completion function outside
# the line editor and see what it offers (one candidate per line).
compadd() {
	local use_array=0 a
	while (( $# )); do
		case $1 in
		-a) use_array=1 ;;
		-X|-J|-V|-x) shift ;;
		--) shift; break ;;
		-*) ;;
		*) break ;;
		esac
		shift
	done
	if (( use_array )); then for a; do print -rl -- ${(P)a}; done; else print -rl -- "$@"; fi
}
_describe() { print -rl -- ${(P)${@[-1]}%%:*}; }
_files() { print -r -- '<files>'; }
