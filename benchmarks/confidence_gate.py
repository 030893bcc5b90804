"""What a confidence gate (``DecodeConfig.min_confidence``, ``--min-confidence``) costs on speech
and saves on non-speech: greedy WER on dev sets and words per minute on held-out non-speech clips
(``asr.data.nonspeech``, seed 1) at each threshold, one result per file, as ``asr transcribe``
gates short files.

Rule, fixed before the first run: the threshold suggested for a model is the highest of the grid
whose WER rises by at most 0.25 on AN4 + FSDD dev and by at most 0.5 on the all-corpora dev set
over no gate. Test splits (AN4, FSDD) are reported at each threshold, never used for the choice.

    python benchmarks/confidence_gate.py --model asr/models/default_en_stream.pt --model asr/models/default_en.pt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.decoding.types import doubtful  # noqa: E402
from asr.evaluate import manifest_log_probs  # noqa: E402
from asr.train.metrics import error_rates  # noqa: E402
from asr.transcribe import load_model  # noqa: E402
from benchmarks.common import ROOT, write_result  # noqa: E402
from benchmarks.nonspeech import minutes  # noqa: E402

GRID = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
DATA = ROOT / "data" / "default_en"
SETS = {"dev_commands": DATA / "dev_commands.jsonl", "dev_all": DATA / "dev.jsonl",
        "an4_test": DATA / "an4" / "test.jsonl", "fsdd_test": DATA / "fsdd" / "test.jsonl"}
NONSPEECH = ROOT / "data" / "nonspeech" / "heldout.jsonl"


def gated(hyps: list, threshold: float) -> list[str]:
    return ["" if doubtful(h.words, threshold) else h.text for h in hyps]


def score(model: str) -> dict:
    rec = load_model(model)
    decoded = {}
    for name, manifest in {**SETS, "nonspeech": NONSPEECH}.items():
        lps, refs, _ = manifest_log_probs(rec, str(manifest))
        decoded[name] = (refs, [rec.decoder.decode(lp)[0] for lp in lps], minutes(lps, rec.frame_seconds))
    rows = []
    for t in GRID:
        row = {"min_confidence": t}
        for name in SETS:
            refs, hyps, _ = decoded[name]
            row[f"{name}_wer"] = round(error_rates(refs, gated(hyps, t))[0], 2)
        _, hyps, mins = decoded["nonspeech"]
        row["nonspeech_words_per_minute"] = round(sum(len(x.split()) for x in gated(hyps, t)) / mins, 2)
        rows.append(row)
        print(model, row, flush=True)
    base = rows[0]
    ok = [r for r in rows if r["dev_commands_wer"] <= base["dev_commands_wer"] + 0.25 and r["dev_all_wer"] <= base["dev_all_wer"] + 0.5]
    return {"grid": rows, "suggested": max(r["min_confidence"] for r in ok)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="checkpoint (repeatable)")
    ap.add_argument("--result", default="confidence_gate.json", help="file name under benchmarks/results/")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {m: score(m) for m in args.model}
    for m, r in out.items():
        print(m, "suggested min_confidence:", r["suggested"])
    write_result(args.result, {"models": out})


if __name__ == "__main__":
    main()
