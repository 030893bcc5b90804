#!/usr/bin/env bash
# Install everything, then run the whole test suite (tests that read ../shared/corpora skip
# with a reason where it is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m pytest -q -ra "$@"
