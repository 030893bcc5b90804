"""Greedy (best path) CTC decoding with word timings from the alignment."""
from __future__ import annotations


import torch

from ..text import Vocabulary
from .types import Hypothesis, Word


def collapse(path: list[int], blank: int = 0) -> list[tuple[int, int, int]]:
    """Frame-wise best path -> [(token, first_frame, last_frame)] with repeats merged, blanks dropped."""
    out: list[tuple[int, int, int]] = []
    prev = blank
    for t, k in enumerate(path):
        if k != blank:
            if k == prev and out:
                out[-1] = (k, out[-1][1], t)
            else:
                out.append((k, t, t))
        prev = k
    return out


# Letters of one word come a few tens of ms apart. CTC emits no space token across a long pause
# (only blanks), so without this rule "two ... <20 s of silence> ... the" would come out "twothe".
WORD_BREAK_GAP = 0.5  # seconds between two tokens that always separates words


def words_from_alignment(spans: list[tuple[int, int, int]], frame_conf: list[float], vocab: Vocabulary,
                         frame_seconds: float, offset: float = 0.0) -> list[Word]:
    """Group token spans into words at the space token, and at any pause longer than
    WORD_BREAK_GAP between two tokens. Times in seconds from ``offset``."""
    words: list[Word] = []
    cur: list[tuple[int, int, int]] = []

    def flush() -> None:
        if cur:
            text = vocab.decode([k for k, _, _ in cur])
            confs = [frame_conf[t] for _, s, e in cur for t in range(s, e + 1)]
            words.append(Word(text, offset + cur[0][1] * frame_seconds, offset + (cur[-1][2] + 1) * frame_seconds,
                              float(min(1.0, max(0.0, sum(confs) / len(confs))))))
            cur.clear()

    max_gap = WORD_BREAK_GAP / frame_seconds
    for span in spans:
        if span[0] == vocab.space:
            flush()
        else:
            if cur and span[1] - cur[-1][2] > max_gap:
                flush()
            cur.append(span)
    flush()
    return words


def greedy_decode(log_probs: torch.Tensor, vocab: Vocabulary, frame_seconds: float, offset: float = 0.0) -> Hypothesis:
    """log_probs: (T, vocab) for one utterance (already cut to its length)."""
    if log_probs.dim() != 2:
        raise ValueError(f"expected log_probs of shape (time, vocab), got {tuple(log_probs.shape)}")
    best, path = log_probs.max(-1)
    spans = collapse(path.tolist(), vocab.blank)
    tokens = [k for k, _, _ in spans]
    conf = best.exp().tolist()
    words = words_from_alignment(spans, conf, vocab, frame_seconds, offset)
    return Hypothesis(text=" ".join(w.text for w in words), tokens=tokens, score=float(best.sum()), words=words)


def greedy_batch(log_probs: torch.Tensor, lens: torch.Tensor, vocab: Vocabulary, frame_seconds: float) -> list[Hypothesis]:
    """log_probs: (batch, T, vocab), lens: (batch,) -> one Hypothesis each."""
    return [greedy_decode(log_probs[i, : int(lens[i])], vocab, frame_seconds) for i in range(log_probs.shape[0])]
