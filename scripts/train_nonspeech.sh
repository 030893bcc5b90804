#!/usr/bin/env bash
# Stage 5 of a bundled model: seeds from its stage-4 weights on stage 4's data mix plus synthesized
# non-speech clips, the mean of their best.pt (asr average: a "model soup"; the seeds share their
# start), then the figures of the shipping rule written in the config's comment.
#
#   bash scripts/train_nonspeech.sh streaming   # configs/default_en_stream_nonspeech.yaml, 5 seeds, ~30 min
#   bash scripts/train_nonspeech.sh offline     # configs/default_en_nonspeech.yaml, 2 seeds, ~25 min
#   bash scripts/train_nonspeech.sh streaming2  # the streaming config at the offline one's settings, 2 seeds
#
# Needs data/default_en (scripts/prepare_default_en.py). Seeds run two at a time (one core each).
# A killed run continues where it stopped: rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."
ASR=.venv/bin/asr
PY=.venv/bin/python
EXTRA=()
case "${1:-}" in
    streaming) CONFIG=configs/default_en_stream_nonspeech.yaml OUT=exp/default_en_stream_ns
               MODEL=asr/models/default_en_stream.pt SEEDS=(0 1 2 3 4) ;;
    streaming2) CONFIG=configs/default_en_stream_nonspeech.yaml OUT=exp/default_en_stream_ns2
               MODEL=asr/models/default_en_stream.pt SEEDS=(0 1)
               EXTRA=("data.weights=[1,1,0.05,0.05,0.25,0.05,0.1]" optim.lr=1e-4 augment.telephone_prob=0.2) ;;
    offline)   CONFIG=configs/default_en_nonspeech.yaml OUT=exp/default_en_ns
               MODEL=asr/models/default_en.pt SEEDS=(0 1) ;;
    *) echo "usage: $0 streaming|offline" >&2; exit 2 ;;
esac
START=exp/$(basename "$MODEL" .pt)_stage4.pt  # the config's init_from

source scripts/train_lib.sh
stage5_inputs "$MODEL" "$START"
train_seeds "$CONFIG" "$OUT" "${SEEDS[*]}" "${EXTRA[@]}"
rule_figures "$OUT"
