#!/usr/bin/env bash
# The streaming AN4 model of benchmarks/results/streaming.json: six seeds of
# configs/an4_stream_ft.yaml (each starts from the bundled streaming model, stage 6 by default, 80
# epochs on AN4), then the mean of their weights (asr average: a "model soup"; the seeds share their
# start, so their weights can be averaged), then the streaming benchmark.
#
#   bash scripts/train_an4_stream.sh [AN4_DIR]    # default: ../shared/corpora/an4
#   LA=exp/an4_stream_la/seed1/best.pt bash scripts/train_an4_stream.sh   # + a look-ahead model (configs/an4_stream_la.yaml) in the WER-vs-look-ahead table
#   START=exp/default_en_stream_stage5.pt OUT=exp/an4_stream_s5 SEEDS="0 1 2 3" BENCH=0 bash scripts/train_an4_stream.sh
#       # the same recipe from stage 5, without the benchmark: the first half of stage 6
#       # (scripts/train_stream_commands.sh cmd4 runs it when its start is missing)
#
# Two seeds at a time (one core each on this 2-core machine), ~20-25 min a pair; ~70 min in all.
# A killed run continues where it stopped: rerun the script.
set -euo pipefail
cd "$(dirname "$0")/.."
AN4="${1:-../shared/corpora/an4}"
ASR=.venv/bin/asr
PY=.venv/bin/python
DATA=data/an4
START="${START:-exp/default_en_stream_stage6.pt}"
OUT="${OUT:-exp/an4_stream_ft}"
SEEDS="${SEEDS:-0 1 2 3 4 5}"  # stage 6 of the bundled model (train_stream_commands.sh cmd3/cmd4) uses four, as shipped

[[ -f "$DATA/test.jsonl" ]] || $ASR prepare an4 "$AN4" --out "$DATA"
mkdir -p "$OUT"
# A start that is missing is taken from git where it was shipped: stage 5 of
# scripts/train_default_en.sh in commit 2173a85, stage 6 in commit f8cdcf9.
if [[ ! -f "$START" ]]; then
    case "$START" in
        exp/default_en_stream_stage5.pt) git show 2173a85:asr/models/default_en_stream.pt > "$START" ;;
        exp/default_en_stream_stage6.pt) git show f8cdcf9:asr/models/default_en_stream.pt > "$START" ;;
        *) echo "$START not found" >&2; exit 1 ;;
    esac
fi

source scripts/train_lib.sh
# Each seed's best.pt is its dev-best epoch; the soup is their mean.
train_seeds configs/an4_stream_ft.yaml "$OUT" "$SEEDS" data.train="[$DATA/train.jsonl]" data.dev="$DATA/dev.jsonl" \
    train.init_from="$START"
[[ "${BENCH:-1}" == 0 ]] && exit 0
$PY benchmarks/streaming.py --model "$OUT/soup.pt" --data "$DATA" --realtime-utts 30 \
    --about "mean of the best.pt of seeds $SEEDS of configs/an4_stream_ft.yaml from $START (scripts/train_an4_stream.sh)" \
    --lookahead 10="$OUT/seed1/best.pt" ${LA:+50="$LA"}
