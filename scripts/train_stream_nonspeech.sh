#!/usr/bin/env bash
# Stage 5 of the bundled streaming model (configs/default_en_stream_nonspeech.yaml): five seeds
# from the stage-4 weights on stage 4's data mix plus synthesized non-speech clips, the mean of their
# best.pt (asr average), then the figures of its shipping rule (see the config's comment).
#
#   bash scripts/train_stream_nonspeech.sh
#
# Needs data/default_en (scripts/prepare_default_en.py). ~8 min per seed alone on one core; two
# at a time on a 2-core machine, ~30 min in all. A killed run continues where it stopped: rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."
ASR=.venv/bin/asr
PY=.venv/bin/python
OUT=exp/default_en_stream_ns
CONFIG=configs/default_en_stream_nonspeech.yaml

[[ -f data/nonspeech/train.jsonl ]] || $PY -c "from asr.data.nonspeech import synthesize_nonspeech as s; s('data/nonspeech', 400, seed=0, name='train')"
[[ -f data/nonspeech/heldout.jsonl ]] || $PY -c "from asr.data.nonspeech import synthesize_nonspeech as s; s('data/nonspeech', 60, seed=1, name='heldout')"
mkdir -p "$OUT" exp
[[ -f exp/default_en_stream_stage4.pt ]] || git show cd570ac:asr/models/default_en_stream.pt > exp/default_en_stream_stage4.pt

train() {  # train SEED: resume if a run is there, skip if it finished
    local out="$OUT/seed$1"
    if [[ -f "$out/done" ]]; then echo "$out: finished earlier"; return; fi
    if [[ -f "$out/last.pt" ]]; then
        $ASR train --resume "$out" > "$out.log" 2>&1
    else
        $ASR train --config "$CONFIG" train.out_dir="$out" train.seed="$1" > "$out.log" 2>&1
    fi
    touch "$out/done"
}

train 0 & train 1 & wait
train 2 & train 3 & wait
train 4
$ASR average "$OUT"/seed{0,1,2,3,4}/best.pt -o "$OUT/soup.pt"
# The rule's figures: (1) AN4 + FSDD dev, (2) all-corpora dev, (3) non-speech words per minute.
$ASR evaluate --model "$OUT/soup.pt" --manifest data/default_en/dev_commands.jsonl
$ASR evaluate --model "$OUT/soup.pt" --manifest data/default_en/dev.jsonl
$PY benchmarks/nonspeech.py --model "$OUT/soup.pt" --result nonspeech_stream_soup.json
