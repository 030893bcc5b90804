"""Word end times refined with the signal's energy.

CTC marks a word's last letter with a spike that often comes before the sound ends (most for weak
final sounds: "four" ended 0.31 s early on synthesized speech). Starts are accurate; ends are
moved later while the audio stays loud after the spike: up to ``max_extension`` seconds, never
past the next word's start and never earlier than the alignment said. "Loud" is relative to the
audio itself: 10 dB over its noise floor (10th percentile of 10 ms frame energies) and within
45 dB of its loudest frame, so a noisy recording does not stretch words into its noise.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .types import Word

FRAME_SECONDS = 0.01


def frame_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy in dB of consecutive 10 ms frames."""
    hop = max(1, int(sample_rate * FRAME_SECONDS))
    n = len(audio) // hop
    frames = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    return 10 * np.log10((frames**2).mean(axis=1) + 1e-12)


def refine_word_ends(words: list[Word], audio: np.ndarray, sample_rate: int, offset: float = 0.0,
                     max_extension: float = 0.5) -> list[Word]:
    """``words`` (times in seconds, ``audio`` starting at ``offset``) with ends moved to where
    the sound of each word stops. Returns new Word objects; the input is not changed."""
    db = frame_db(audio, sample_rate)
    if not words or len(db) == 0:
        return list(words)
    loud = db > max(np.percentile(db, 10) + 10.0, db.max() - 45.0)
    out = []
    for i, w in enumerate(words):
        limit = words[i + 1].start if i + 1 < len(words) else offset + len(db) * FRAME_SECONDS
        limit = min(limit, w.end + max_extension)
        f = int(round((w.end - offset) / FRAME_SECONDS))
        last = int(np.floor((limit - offset) / FRAME_SECONDS + 1e-9))
        while 0 <= f < min(last, len(db)) and loud[f]:
            f += 1
        end = max(w.end, min(limit, offset + f * FRAME_SECONDS))
        out.append(dataclasses.replace(w, end=end))
    return out


def clip_words(words: list[Word], end: float) -> list[Word]:
    """``words`` with every time clipped to ``end`` (the audio's end, for letters a model emitted
    in silence appended after it). Returns new Word objects where a time changes."""
    return [w if w.end <= end else dataclasses.replace(w, start=min(w.start, end), end=end) for w in words]
