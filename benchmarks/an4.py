"""AN4 benchmark: prepare, train (one process per seed), greedy test WER/CER -> results/an4.json.

    python benchmarks/an4.py [--source ../shared/corpora/an4] [--seeds 0 1] [--threads 1]

The seeds train side by side (one thread each on this 2-core machine); train_wall_s is the wall
time of the slowest one. The model is chosen by dev WER; the test split is only scored.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, SHARED_CORPORA, write_result  # noqa: E402
from benchmarks.train_eval import run, summarize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED_CORPORA / "an4")
    ap.add_argument("--config", default=str(ROOT / "configs" / "an4.yaml"))
    ap.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench_an4")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    ap.add_argument("--reuse", action="store_true",
                    help="evaluate seeds whose training in --workdir already finished with these settings instead of retraining")
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. train.epochs=5")
    args = ap.parse_args()
    if not args.source.is_dir():
        sys.exit(f"AN4 not found at {args.source}; pass --source /path/to/an4 (CMU layout)")
    out = run("an4", args.source, args.config, args.workdir, args.seeds, args.threads, args.overrides, args.reuse)
    summary = summarize(out["runs"])
    per_utt = out["runs"][0]["result"]["utterances"]
    write_result("an4.json", {**summary, "config": args.config, "overrides": args.overrides,
                              "per_utterance_seed0": per_utt})


if __name__ == "__main__":
    main()
