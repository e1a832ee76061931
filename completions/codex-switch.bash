# bash completion for codex-switch                              -*- shell-script -*-
# Account names come from `codex-switch __complete accounts` (one per line, from the store).

_codex_switch_accounts()
{
	local IFS=$'\n'
	local names
	names=$(command codex-switch __complete accounts 2>/dev/null) || return
	COMPREPLY+=($(compgen -W "$names" -- "$1"))
}

_codex_switch()
{
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="run list login usage reset-usage import export switch rename delete enable
		disable auto-switch doctor logs"

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	case "$prev" in
	--file | --codex-bin)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--account)
		_codex_switch_accounts "$cur"
		return
		;;
	--lines | -n | --days)
		return
		;;
	esac
	# The number of words before the current one that are not options: the position.
	local npos=0
	for ((i = 2; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		--file | --codex-bin | --account | --lines | -n | --days) i=$((i + 1)) ;;
		-*) ;;
		*) npos=$((npos + 1)) ;;
		esac
	done
	case "$cmd" in
	run)
		[ "$npos" -eq 0 ] && COMPREPLY=($(compgen -W "--account --codex-bin --help -- resume fork" -- "$cur"))
		;;
	list)
		COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		;;
	auto-switch)
		COMPREPLY=($(compgen -W "--dry-run --json --force --help" -- "$cur"))
		;;
	login)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--device-auth --replace --help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	usage)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--all --json --help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	reset-usage)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--yes --help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	switch)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--force --help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	import)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--file --help" -- "$cur"))
		;;
	export)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--file --force --help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	rename | delete | enable | disable)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--help" -- "$cur"))
		elif [ "$npos" -eq 0 ]; then
			_codex_switch_accounts "$cur"
		fi
		;;
	doctor)
		COMPREPLY=($(compgen -W "--codex-bin --json --help" -- "$cur"))
		;;
	logs)
		local action=
		for ((i = 2; i < COMP_CWORD; i++)); do
			case "${COMP_WORDS[i]}" in path | latest | tail | prune) action=${COMP_WORDS[i]} ;; esac
		done
		case "$action" in
		"") COMPREPLY=($(compgen -W "path latest tail prune --help" -- "$cur")) ;;
		tail) COMPREPLY=($(compgen -W "--lines --follow" -- "$cur")) ;;
		prune) COMPREPLY=($(compgen -W "--days --dry-run --json" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
		esac
		;;
	esac
}

complete -F _codex_switch codex-switch
