"""FSDD benchmark: prepare (official split: index 0-4 is test), train per seed, test word accuracy.

    python benchmarks/fsdd.py [--source ../shared/corpora/fsdd] [--seeds 0 1] [--threads 1]

Each recording is one digit, so word accuracy = share of test files whose transcript is exactly
the digit's word. The headline decodes with the lexicon of the training transcripts (the ten digit
words: a closed-vocabulary task); greedy accuracy and WER are reported too.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, SHARED_CORPORA, write_result  # noqa: E402
from asr.config import DecodeConfig  # noqa: E402
from asr.data.manifest import read_manifest  # noqa: E402
from asr.evaluate import evaluate  # noqa: E402
from asr.transcribe import load_model  # noqa: E402
from benchmarks.train_eval import run, summarize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=SHARED_CORPORA / "fsdd")
    ap.add_argument("--config", default=str(ROOT / "configs" / "fsdd.yaml"))
    ap.add_argument("--workdir", type=Path, default=ROOT / "exp" / "bench_fsdd")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reuse", action="store_true",
                    help="evaluate seeds whose training in --workdir already finished with these settings instead of retraining")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    if not args.source.is_dir():
        sys.exit(f"FSDD not found at {args.source}; pass --source /path/to/free-spoken-digit-dataset")
    out = run("fsdd", args.source, args.config, args.workdir, args.seeds, args.threads, args.overrides, args.reuse)

    def accuracy(utts: list[dict]) -> float:
        return round(100.0 * sum(u["hyp"] == u["ref"] for u in utts) / len(utts), 3)

    greedy = [accuracy(r["result"]["utterances"]) for r in out["runs"]]
    # FSDD is a closed 10-word task: decode with the lexicon of the *training* transcripts.
    lexicon = args.workdir / "lexicon.txt"
    words = sorted({w for r in read_manifest(out["manifests"]["train"]) for w in r["text"].split()})
    lexicon.write_text("\n".join(words) + "\n")
    lex_results = [evaluate(load_model(args.workdir / f"seed{r['seed']}" / "best.pt", decode=DecodeConfig(decoder="beam", lexicon=str(lexicon))),
                            out["manifests"]["test"]) for r in out["runs"]]
    lexical = [accuracy(res["utterances"]) for res in lex_results]
    errors = [u for u in lex_results[0]["utterances"] if u["hyp"] != u["ref"]]
    write_result("fsdd.json", {"accuracy": statistics.median(lexical), "accuracy_seeds": lexical,
                               "decoder": f"beam search constrained to the {len(words)} training words",
                               "accuracy_greedy": statistics.median(greedy), "accuracy_greedy_seeds": greedy,
                               **summarize(out["runs"]), "config": args.config, "overrides": args.overrides,
                               "errors_seed0": errors})


if __name__ == "__main__":
    main()
