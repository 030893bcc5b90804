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
