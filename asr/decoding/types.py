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


def mean_confidence(words: list[Word]) -> float:
    """The mean of the words' confidences; 1.0 for no words (nothing to doubt)."""
    return sum(w.confidence for w in words) / len(words) if words else 1.0
