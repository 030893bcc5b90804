# Shared by the training scripts (source it; it needs ASR, the asr command, and PY, the venv's
# python, set first).

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

wait_for() {  # wait_for PID...: wait for these background runs; fail if any of them failed
    local pid failed=0
    for pid; do wait "$pid" || failed=1; done
    ((failed == 0)) || { echo "$(basename "$0"): a training run failed; its log is OUT_DIR.log" >&2; return 1; }
}

train_seeds() {  # train_seeds CONFIG OUT_DIR "SEED ..." [overrides...]: the seeds two at a time
    # (one core each) into OUT_DIR/seedN, then OUT_DIR/soup.pt, the mean of their best.pt
    # (asr average: a "model soup"; the seeds share their start)
    local config=$1 out=$2 i
    local -a seeds
    read -r -a seeds <<< "$3"
    shift 3
    for ((i = 0; i < ${#seeds[@]}; i += 2)); do
        local -a pids=()
        train "$config" "$out/seed${seeds[i]}" train.seed="${seeds[i]}" "$@" & pids+=($!)
        if [[ $((i + 1)) -lt ${#seeds[@]} ]]; then
            train "$config" "$out/seed${seeds[i + 1]}" train.seed="${seeds[i + 1]}" "$@" & pids+=($!)
        fi
        wait_for "${pids[@]}"
    done
    $ASR average "${seeds[@]/#/$out/seed}" -o "$out/soup.pt"
}

stage5_inputs() {  # stage5_inputs MODEL START: what a stage 5 reads besides data/default_en: the
    # synthesized non-speech clips (training and held-out) and START, the stage-4 weights of MODEL
    # (asr/models/...) as shipped in commit cd570ac
    [[ -f data/nonspeech/train.jsonl ]] || $PY -c "from asr.data.nonspeech import synthesize_nonspeech as s; s('data/nonspeech', 400, seed=0, name='train')"
    [[ -f data/nonspeech/heldout.jsonl ]] || $PY -c "from asr.data.nonspeech import synthesize_nonspeech as s; s('data/nonspeech', 60, seed=1, name='heldout')"
    mkdir -p "$(dirname "$2")"
    [[ -f "$2" ]] || git show "cd570ac:$1" > "$2"
}

rule_figures() {  # rule_figures OUT_DIR: the figures the stage-5 shipping rules read, for OUT_DIR/soup.pt:
    # greedy WER on AN4 + FSDD dev, FSDD dev and the all-corpora dev set, and non-speech words per minute
    local m=$1/soup.pt manifest
    for manifest in dev_commands.jsonl fsdd/dev.jsonl dev.jsonl; do
        $ASR evaluate --model "$m" --manifest "data/default_en/$manifest"
    done
    $PY benchmarks/nonspeech.py --model "$m" --result "nonspeech_$(basename "$1")_soup.json"
}
