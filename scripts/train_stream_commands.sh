#!/usr/bin/env bash
# A commands-leaning stage 5 of the bundled streaming model (configs/default_en_stream_commands.yaml):
# seeds 0-3 from its stage-4 weights, two at a time (one core each), the mean of their best.pt
# (asr average: a "model soup"; the seeds share their start), then the figures of the shipping rule
# written in the config's comment. Needs data/default_en (scripts/prepare_default_en.py).
# A killed run continues where it stopped: rerun it.
#
#   bash scripts/train_stream_commands.sh        # the config as written -> exp/default_en_stream_cmd
#   bash scripts/train_stream_commands.sh cmd2   # the second try in the config's comment -> exp/default_en_stream_cmd2
#   bash scripts/train_stream_commands.sh cmd3   # the fifth -> exp/default_en_stream_cmd3
#   bash scripts/train_stream_commands.sh cmd4   # the seventh -> exp/default_en_stream_cmd4
set -euo pipefail
cd "$(dirname "$0")/.."
ASR=.venv/bin/asr
PY=.venv/bin/python
CONFIG=configs/default_en_stream_commands.yaml
START=exp/default_en_stream_stage4.pt  # the config's init_from
SEEDS=(0 1 2 3)
EXTRA=()
CMD2=("data.train=[data/default_en/an4/train.jsonl,data/default_en/fsdd/train.jsonl,data/default_en/librilight/train.jsonl,data/default_en/speechocean762/train.jsonl,data/default_en/synth/train.jsonl,data/default_en/synth/read.jsonl,data/nonspeech/train.jsonl]"
      "data.weights=[1,0.5,0.05,0.05,0.1,0.05,0.1]" augment.telephone_prob=0.2)
case "${1:-cmd}" in
    cmd)  OUT=exp/default_en_stream_cmd ;;
    cmd2) OUT=exp/default_en_stream_cmd2
          EXTRA=("${CMD2[@]}") ;;
    cmd3|cmd4) OUT=exp/default_en_stream_$1  # cmd2's mix from the AN4 streaming soup made from stage 5
          START=exp/an4_stream_s5/soup.pt SEEDS=(0 1)  # the AN4 streaming recipe from stage 5
          [[ -f $START ]] || START=exp/default_en_stream_stage5.pt OUT=exp/an4_stream_s5 SEEDS="0 1 2 3" BENCH=0 bash scripts/train_an4_stream.sh
          EXTRA=("${CMD2[@]}" train.init_from=$START train.epochs=10 optim.lr=2.5e-4)
          if [[ $1 == cmd4 ]]; then EXTRA+=("data.weights=[1,1,0.05,0.05,0.1,0.05,0.1]"); fi ;;  # FSDD whole each epoch, not half
    *) echo "usage: $0 [cmd|cmd2|cmd3|cmd4]" >&2; exit 2 ;;
esac

source scripts/train_lib.sh
stage5_inputs asr/models/default_en_stream.pt "$START"
train_seeds "$CONFIG" "$OUT" "${SEEDS[*]}" "${EXTRA[@]}"
rule_figures "$OUT"
