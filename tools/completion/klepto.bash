# SPDX-License-Identifier: BSD-3-Clause
# bash completion for the klepto command: commands, each command's options
# (as its --help lists them), the values of --format, --keymap, --rounding
# and --policy, and archive URLs: the schemes, then paths after a local
# scheme (file: dir: sqlite: hdf5: hdf5dir:).  Installed as
# share/bash-completion/completions/klepto; source it to try it.

_klepto_commands="ls get count put rm stats verify clear copy compact export import prune key simulate help"

_klepto_options()
{
    case $1 in
    ls) echo "--long --json" ;;
    count) echo "--json" ;;
    stats) echo "--json --human --exact --zero" ;;
    verify) echo "--repair --json --progress --quiet" ;;
    clear | compact) echo "--progress --quiet" ;;
    copy) echo "--json --progress --quiet" ;;
    export) echo "--format --progress --quiet" ;;
    import) echo "--format --progress --quiet" ;;
    prune) echo "--max-entries --max-bytes --older-than --json --progress --quiet" ;;
    key) echo "--keymap --algorithm --typed --no-flat --signature --ignore --tol --rounding" ;;
    simulate) echo "--policy --size --trace --json" ;;
    esac
    echo "--help"
}

_klepto_schemes="mem: null: file: dir: sqlite: hdf5: hdf5dir: postgresql:// mysql:// mariadb:// redis://"

_klepto()
{
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    # bash splits words at ':' (COMP_WORDBREAKS): join "file" ":" "path"
    # back into the word being completed
    if [[ $cur == : || $prev == : ]] && ((COMP_CWORD >= 2)); then
        if [[ $cur == : ]]; then
            prev=${COMP_WORDS[COMP_CWORD - 1]}
            cur="$prev:"
        else
            cur="${COMP_WORDS[COMP_CWORD - 2]}:$cur"
        fi
    fi
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *)
            cmd=${COMP_WORDS[i]}
            break
            ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--help --version -h -V" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_klepto_commands" -- "$cur")
        fi
        return 0
    fi

    case $prev in
    --format)
        mapfile -t COMPREPLY < <(compgen -W "json csv" -- "$cur")
        return 0
        ;;
    --keymap)
        mapfile -t COMPREPLY < <(compgen -W "raw hash string pickle" -- "$cur")
        return 0
        ;;
    --rounding)
        mapfile -t COMPREPLY < <(compgen -W "simple shallow deep" -- "$cur")
        return 0
        ;;
    --policy)
        mapfile -t COMPREPLY < <(compgen -W "lru lfu mru rr fifo sieve s3fifo wtinylfu arc lirs adaptive all" -- "$cur")
        return 0
        ;;
    --trace)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
    --max-entries | --max-bytes | --older-than | --size | --algorithm | --signature | --ignore | --tol)
        return 0
        ;;
    esac

    if [[ $cmd == help ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$_klepto_commands" -- "$cur")
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_klepto_options "$cmd")" -- "$cur")
        return 0
    fi
    case $cmd in
    key | simulate) return 0 ;;
    esac
    # an archive URL (or import's FILE): a scheme, or a path after a local one
    local scheme path word
    case $cur in
    file:* | dir:* | sqlite:* | hdf5:* | hdf5dir:*)
        scheme=${cur%%:*}
        path=${cur#*:}
        # the part bash still treats as the word: after the last ':'
        mapfile -t COMPREPLY < <(compgen -f -- "$path")
        for i in "${!COMPREPLY[@]}"; do
            word=${COMPREPLY[i]}
            [[ -d $word ]] && word="$word/"
            COMPREPLY[i]=$word
        done
        if [[ $COMP_WORDBREAKS != *:* ]]; then
            for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]="$scheme:${COMPREPLY[i]}"; done
        fi
        compopt -o nospace 2>/dev/null
        ;;
    *)
        mapfile -t COMPREPLY < <(compgen -W "$_klepto_schemes" -- "$cur")
        if [[ $cmd == import ]]; then
            local files
            mapfile -t files < <(compgen -f -- "$cur")
            COMPREPLY+=("${files[@]}")
        fi
        # a scheme goes on with its path: no space after it; bash (with ':'
        # a word break) completes only what follows the last ':'
        if [[ $COMP_WORDBREAKS == *:* && $cur == *:* ]]; then
            local pre=${cur%"${cur##*:}"}
            for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$pre"}; done
        fi
        compopt -o nospace 2>/dev/null
        ;;
    esac
    return 0
}
complete -F _klepto klepto
