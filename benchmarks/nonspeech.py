"""How much a model writes for audio with no speech in it: words per minute and the share of
clips with any output, greedy, on non-speech clips (``asr.data.nonspeech``; the held-out ones come
from another seed than any training clips).

    python -c "from asr.data.nonspeech import synthesize_nonspeech as s; s('data/nonspeech', 60, seed=1, name='heldout')"
    python benchmarks/nonspeech.py --model asr/models/default_en_stream.pt [--model ...] \\
        --manifest data/nonspeech/heldout.jsonl --result nonspeech.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.evaluate import manifest_log_probs  # noqa: E402
from asr.transcribe import load_model  # noqa: E402
from benchmarks.common import ROOT, write_result  # noqa: E402


def minutes(lps: list[torch.Tensor], frame_seconds: float) -> float:
    """Audio minutes behind a list of (frames, vocab) log-probs."""
    return sum(lp.shape[0] for lp in lps) * frame_seconds / 60


def score(model: str, manifest: str) -> dict:
    rec = load_model(model)
    lps, _, failed = manifest_log_probs(rec, manifest)
    texts = [rec.decoder.decode(lp)[0].text for lp in lps]
    mins = minutes(lps, rec.frame_seconds)
    words = sum(len(t.split()) for t in texts)
    return {"clips": len(texts), "failed": len(failed), "minutes": round(mins, 2), "words": words,
            "words_per_minute": round(words / mins, 2), "clips_with_output": round(100 * sum(bool(t) for t in texts) / len(texts), 1),
            "examples": [t for t in texts if t][:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="checkpoint (repeatable)")
    ap.add_argument("--manifest", default=str(ROOT / "data" / "nonspeech" / "heldout.jsonl"))
    ap.add_argument("--result", default="nonspeech.json", help="file name under benchmarks/results/")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {}
    for m in args.model:
        out[m] = score(m, args.manifest)
        print(m, {k: v for k, v in out[m].items() if k != "examples"}, out[m]["examples"][:5], flush=True)
    write_result(args.result, {"models": out, "manifest": args.manifest})


if __name__ == "__main__":
    main()
