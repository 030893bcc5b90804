"""Word and character error rates (jiwer), in percent."""
from __future__ import annotations

from typing import Sequence

import jiwer


def error_counts(ref: str, hyp: str) -> dict:
    """Substitutions, deletions, insertions and reference length, for words and characters."""
    out = {}
    for unit, r, h in (("word", ref, hyp), ("char", ref, hyp)):
        if unit == "char":
            r, h = " ".join(ref.replace(" ", "_")), " ".join(hyp.replace(" ", "_"))
        if not r.strip():
            out[unit] = {"sub": 0, "del": 0, "ins": len(h.split()), "ref": 0}
            continue
        o = jiwer.process_words(r, h if h.strip() else "")
        out[unit] = {"sub": o.substitutions, "del": o.deletions, "ins": o.insertions, "ref": o.substitutions + o.deletions + o.hits}
    return out


def error_rates(refs: Sequence[str], hyps: Sequence[str]) -> tuple[float, float]:
    """(WER %, CER %) over a corpus: total errors / total reference words (characters)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    w = [0, 0]
    c = [0, 0]
    for r, h in zip(refs, hyps):
        e = error_counts(r, h)
        w[0] += e["word"]["sub"] + e["word"]["del"] + e["word"]["ins"]
        w[1] += e["word"]["ref"]
        c[0] += e["char"]["sub"] + e["char"]["del"] + e["char"]["ins"]
        c[1] += e["char"]["ref"]
    return 100.0 * w[0] / max(1, w[1]), 100.0 * c[0] / max(1, c[1])
