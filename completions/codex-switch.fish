# fish completion for codex-switch. Account names come from
# `codex-switch __complete accounts` (one per line, from the store).

set -l __cs_commands run list login usage reset-usage import export switch rename delete enable disable auto-switch doctor logs
set -l __cs_account_commands login usage reset-usage export switch rename delete enable disable

function __codex_switch_accounts
    command codex-switch __complete accounts 2>/dev/null
end

# True while the current command line has no positional word after the subcommand yet.
function __codex_switch_first_arg
    set -l words (commandline -opc)
    set -l n 0
    set -l skip 0
    for w in $words[3..-1]
        if test $skip = 1
            set skip 0
        else if contains -- $w --file --codex-bin --account --lines -n --days
            set skip 1
        else if not string match -q -- '-*' $w
            set n (math $n + 1)
        end
    end
    test $n -eq 0
end

complete -c codex-switch -f
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -l help -d 'show help'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -l version -d 'show the version'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a run -d 'run Codex, switching accounts at usage limits'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a list -d 'list stored accounts'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a login -d 'sign in to ChatGPT and store the account'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a usage -d 'show usage limits'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a reset-usage -d 'spend a rate-limit reset credit'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a import -d 'store the account of a Codex auth.json'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a export -d 'print or write an account as auth.json'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a switch -d 'make an account current for plain codex'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a rename -d 'rename an account'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a delete -d 'delete an account'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a enable -d 'allow automatic switching to an account'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a disable -d 'exclude an account from automatic switching'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a auto-switch -d 'switch to a better account now'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a doctor -d 'check codex, the store, auth.json, logs'
complete -c codex-switch -n "not __fish_seen_subcommand_from $__cs_commands" -a logs -d 'show or prune the logs of run'

complete -c codex-switch -n "__fish_seen_subcommand_from $__cs_account_commands; and __codex_switch_first_arg" -a '(__codex_switch_accounts)' -d account
complete -c codex-switch -n "__fish_seen_subcommand_from run" -l codex-bin -r -F -d 'the codex binary'
complete -c codex-switch -n "__fish_seen_subcommand_from run" -l account -x -a '(__codex_switch_accounts)' -d 'start this session on this account'
complete -c codex-switch -n "__fish_seen_subcommand_from doctor" -l codex-bin -r -F -d 'the codex binary'
complete -c codex-switch -n "__fish_seen_subcommand_from list usage doctor auto-switch logs" -l json -d 'machine-readable output'
complete -c codex-switch -n "__fish_seen_subcommand_from login" -l device-auth -d 'sign in with a code on another device'
complete -c codex-switch -n "__fish_seen_subcommand_from login" -l replace -d 'sign an existing account in again'
complete -c codex-switch -n "__fish_seen_subcommand_from usage" -l all -d 'every account'
complete -c codex-switch -n "__fish_seen_subcommand_from import export" -l file -r -F -d 'auth.json path'
complete -c codex-switch -n "__fish_seen_subcommand_from export" -l force -d 'replace an existing file'
complete -c codex-switch -n "__fish_seen_subcommand_from auto-switch" -l dry-run -d 'show what would happen'
complete -c codex-switch -n "__fish_seen_subcommand_from switch auto-switch" -l force -d 'switch even beside a plain codex'
complete -c codex-switch -n "__fish_seen_subcommand_from reset-usage" -l yes -d 'spend the credit without asking'
complete -c codex-switch -n "__fish_seen_subcommand_from logs; and not __fish_seen_subcommand_from path latest tail prune" -a 'path latest tail prune'
complete -c codex-switch -n "__fish_seen_subcommand_from tail" -s n -l lines -r -d 'how many lines'
complete -c codex-switch -n "__fish_seen_subcommand_from tail" -s f -l follow -d 'keep printing'
complete -c codex-switch -n "__fish_seen_subcommand_from prune" -l days -r -d 'older than N days'
complete -c codex-switch -n "__fish_seen_subcommand_from prune" -l dry-run -d 'delete nothing'
