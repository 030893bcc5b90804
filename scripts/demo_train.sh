#!/usr/bin/env bash
# Train-from-scratch demo (the quickstart before the bundled models existed): install, synthesize a small spoken corpus with espeak-ng,
# train a small BiLSTM-CTC model on it for a few CPU minutes, then transcribe the held-out clips
# and print their WER.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== synthesizing a demo corpus (espeak-ng, 16 voices) into data/synth"
asr synth --out data/synth
echo "== training configs/demo.yaml (a few minutes on a CPU)"
asr train --config configs/demo.yaml "$@"
echo "== transcribing three held-out clips"
mapfile -t clips < <(python -c "import json; [print('data/synth/' + json.loads(l)['audio']) for l in open('data/synth/test.jsonl').readlines()[:3]]")
asr transcribe --model exp/demo/best.pt "${clips[@]}"
echo "== scoring all held-out clips"
asr evaluate --model exp/demo/best.pt --manifest data/synth/test.jsonl --json exp/demo/test.json -q
