# Shared by the training scripts (source it; it needs ASR, the asr command, set first).

train() {  # train CONFIG OUT_DIR [overrides...]: resume a run that stopped, skip one that finished
    local config=$1 out=$2; shift 2
    if [[ -f "$out/done" ]]; then echo "$out: finished earlier"; return; fi
    mkdir -p "$(dirname "$out")"
    if [[ -f "$out/last.pt" ]]; then
        $ASR train --resume "$out" >> "$out.log" 2>&1  # the stopped run's log is kept
    else
        $ASR train --config "$config" train.out_dir="$out" "$@" > "$out.log" 2>&1
    fi
    touch "$out/done"
}

train_seeds() {  # train_seeds CONFIG OUT_DIR "SEED ..." [overrides...]: the seeds two at a time
    # (one core each) into OUT_DIR/seedN, then OUT_DIR/soup.pt, the mean of their best.pt
    # (asr average: a "model soup"; the seeds share their start)
    local config=$1 out=$2 i
    local -a seeds
    read -r -a seeds <<< "$3"
    shift 3
    for ((i = 0; i < ${#seeds[@]}; i += 2)); do
        train "$config" "$out/seed${seeds[i]}" train.seed="${seeds[i]}" "$@" &
        [[ $((i + 1)) -lt ${#seeds[@]} ]] && train "$config" "$out/seed${seeds[i + 1]}" train.seed="${seeds[i + 1]}" "$@" &
        wait
    done
    $ASR average "${seeds[@]/#/$out/seed}" -o "$out/soup.pt"
}
