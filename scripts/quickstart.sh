#!/usr/bin/env bash
# The main job, from a fresh clone: install everything, transcribe the example clips with the
# bundled offline model (greedy, then with the bundled LM), then stream one through the bundled streaming model in real time,
# printing partial results as they come. (scripts/demo_train.sh trains a model from scratch.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== transcribing examples/ with the bundled offline model (asr transcribe examples/)"
asr transcribe examples/
echo "== the same with the bundled word 3-gram LM: beam search (asr transcribe --lm bundled examples/)"
asr transcribe --lm bundled examples/
echo "== the spoken texts (examples/transcripts.tsv)"
cat examples/transcripts.tsv
echo "== streaming examples/date.flac in real time with the bundled streaming model (asr stream --realtime)"
asr stream examples/date.flac --realtime
