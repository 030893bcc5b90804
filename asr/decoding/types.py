"""Typed decoder results shared by every decoder."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Word:
    text: str
    start: float  # seconds
    end: float
    confidence: float  # in [0, 1]


@dataclass
class Hypothesis:
    text: str
    tokens: list[int]
    score: float  # log-probability (greedy: sum of the chosen frames' log-probs)
    words: list[Word] = field(default_factory=list)


def doubtful(words: list[Word], min_confidence: float) -> bool:
    """Whether a result falls under the confidence gate (``DecodeConfig.min_confidence``): its words'
    mean confidence is below the threshold. No words: nothing to doubt; threshold 0: never."""
    return bool(words) and sum(w.confidence for w in words) / len(words) < min_confidence
