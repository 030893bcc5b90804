"""Choose an n-gram LM's weight and word score (and among several LMs) by WER on a dev set.

The acoustic model runs once; the beam search then decodes the same log-probs at every grid
point. Each LM is loaded once: the grid's decoders share it (``BeamSearchDecoder.with_weights``).
Never tune on the split you report.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from typing import Callable, Optional, Sequence

import torch

from ..config import DecodeConfig
from ..text import Vocabulary
from ..train.metrics import error_rates
from .beam import BeamSearchDecoder

LM_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
WORD_SCORES = (-1.0, 0.0, 1.0, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class GridPoint:
    lm: str
    lm_weight: float
    word_score: float
    wer: float  # percent

    def as_dict(self) -> dict:
        return asdict(self)


def tune_lm(vocab: Vocabulary, frame_seconds: float, log_probs: Sequence[torch.Tensor], refs: Sequence[str],
            lms: Sequence[str], lm_weights: Sequence[float] = LM_WEIGHTS, word_scores: Sequence[float] = WORD_SCORES,
            base: Optional[DecodeConfig] = None,
            on_point: Optional[Callable[[GridPoint], None]] = None) -> tuple[GridPoint, list[GridPoint]]:
    """(best, all points) of the grid ``lms`` x ``lm_weights`` x ``word_scores``.

    ``log_probs``: one (T, vocab) tensor per dev utterance, ``refs`` their normalised transcripts;
    ``base``: the other beam settings (beam size, pruning, lexicon; default ``DecodeConfig``'s).
    The best has the lowest WER; ties go to the LM listed first, then the lower weight, then the
    lower word score (the least LM that does as well)."""
    if len(log_probs) != len(refs) or not refs:
        raise ValueError(f"need one reference per utterance and at least one: {len(log_probs)} log-probs, {len(refs)} refs")
    if not lms or not lm_weights or not word_scores:
        raise ValueError("need at least one LM, LM weight and word score")
    base = replace(base or DecodeConfig(), decoder="beam", nbest=1)
    points: list[tuple[tuple, GridPoint]] = []
    for rank, lm in enumerate(lms):
        first = BeamSearchDecoder(vocab, replace(base, lm=lm, lm_weight=lm_weights[0], word_score=word_scores[0]), frame_seconds)
        for lw, ws in itertools.product(lm_weights, word_scores):
            dec = first.with_weights(lw, ws)
            wer = round(error_rates(list(refs), [dec.decode(lp)[0].text for lp in log_probs])[0], 6)
            p = GridPoint(lm, float(lw), float(ws), wer)
            points.append(((wer, rank, lw, ws), p))
            if on_point:
                on_point(p)
    return min(points, key=lambda kp: kp[0])[1], [p for _, p in points]


def grid_table(points: Sequence[GridPoint], lm: str) -> str:
    """One LM's WERs as a table: a row per LM weight, a column per word score."""
    mine = [p for p in points if p.lm == lm]
    weights = sorted({p.lm_weight for p in mine})
    scores = sorted({p.word_score for p in mine})
    wer = {(p.lm_weight, p.word_score): p.wer for p in mine}
    lines = [f"{lm}: WER % (rows: --lm-weight, columns: --word-score)", " " * 8 + "".join(f"{ws:>8g}" for ws in scores)]
    lines += [f"{lw:>8g}" + "".join(f"{wer[lw, ws]:>8.2f}" for ws in scores) for lw in weights]
    return "\n".join(lines)
