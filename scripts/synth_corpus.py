#!/usr/bin/env python3
"""Synthesise the small espeak-ng demo corpus (see asr/data/synth.py).

    python scripts/synth_corpus.py --out data/synth [--n-train 600 --n-dev 60 --n-test 60 --seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from asr.data.manifest import read_manifest  # noqa: E402
from asr.data.synth import synthesize_corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (wav/ and train/dev/test.jsonl)")
    ap.add_argument("--n-train", type=int, default=600)
    ap.add_argument("--n-dev", type=int, default=60)
    ap.add_argument("--n-test", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="espeak-ng processes at once")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    try:
        manifests = synthesize_corpus(args.out, args.n_train, args.n_dev, args.n_test,
                                      seed=args.seed, workers=args.workers)
    except (RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    for split, path in manifests.items():
        rows = read_manifest(path)
        hours = sum(r["duration"] for r in rows) / 3600
        print(f"{split:5s} {len(rows):5d} clips {hours:6.3f} h  {path}")
    print(f"done in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
