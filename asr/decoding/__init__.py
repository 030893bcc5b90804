"""CTC decoders. Every decoder has ``decode(log_probs (T, vocab), offset=0.0) -> list[Hypothesis]``
(n-best, best first); ``make_decoder`` picks one from a ``DecodeConfig``."""
from __future__ import annotations

from typing import Optional

import torch

from ..config import DecodeConfig
from ..text import Vocabulary
from .greedy import greedy_decode
from .types import Hypothesis, Word

__all__ = ["GreedyDecoder", "Hypothesis", "Word", "make_decoder"]


class GreedyDecoder:
    """Best path: argmax per frame, repeats merged, blanks dropped."""

    def __init__(self, vocab: Vocabulary, frame_seconds: float) -> None:
        self.vocab, self.frame_seconds = vocab, frame_seconds

    def decode(self, log_probs: torch.Tensor, offset: float = 0.0) -> list[Hypothesis]:
        return [greedy_decode(log_probs, self.vocab, self.frame_seconds, offset)]


def make_decoder(vocab: Vocabulary, cfg: Optional[DecodeConfig], frame_seconds: float):
    cfg = cfg or DecodeConfig()
    if cfg.decoder == "greedy":
        if cfg.lm or cfg.hotwords or cfg.lexicon or cfg.nbest > 1:
            raise ValueError("--lm, --lexicon, --hotword and --nbest need the beam decoder (--decoder beam)")
        return GreedyDecoder(vocab, frame_seconds)
    from .beam import BeamSearchDecoder

    return BeamSearchDecoder(vocab, cfg, frame_seconds)
