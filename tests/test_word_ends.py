"""Word ends refined with the signal's energy: moved to where the sound stops, never past the
next word, never earlier than the alignment, bounded, and unmoved by steady background noise."""
from __future__ import annotations

import numpy as np

from asr.decoding.timing import refine_word_ends
from asr.decoding.types import Word

SR = 16000


def tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def test_end_moves_to_where_the_sound_stops():
    audio = np.concatenate([silence(0.5), tone(0.6), silence(0.8), tone(0.4), silence(0.5)])
    words = [Word("a", 0.52, 0.80, 0.9), Word("b", 1.92, 2.10, 0.9)]  # CTC ends came early
    a, b = refine_word_ends(words, audio, SR)
    assert abs(a.end - 1.1) <= 0.011 and abs(b.end - 2.3) <= 0.011
    assert (a.start, a.text, a.confidence) == (0.52, "a", 0.9)
    assert words[0].end == 0.80  # the input is not changed


def test_end_never_passes_the_next_word_nor_the_cap_nor_moves_earlier():
    audio = np.concatenate([silence(0.2), tone(2.0), silence(0.2)])  # one long sound
    words = [Word("a", 0.2, 0.5, 1.0), Word("b", 0.7, 0.9, 1.0), Word("c", 1.0, 1.2, 1.0)]
    a, b, c = refine_word_ends(words, audio, SR, max_extension=0.5)
    assert a.end == 0.7 and b.end == 1.0  # up to the next word's start
    assert abs(c.end - 1.7) < 1e-9  # capped at 0.5 s after the alignment's end
    quiet = refine_word_ends([Word("x", 0.0, 0.3, 1.0)], silence(1.0), SR)
    assert quiet[0].end == 0.3  # nothing loud: the alignment stands


def test_offset_and_steady_noise():
    rng = np.random.default_rng(0)
    audio = np.concatenate([silence(0.3), tone(0.5), silence(1.0)]) + rng.normal(0, 0.01, int(1.8 * SR)).astype(np.float32)
    (w,) = refine_word_ends([Word("a", 10.3, 10.5, 1.0)], audio, SR, offset=10.0)
    assert abs(w.end - 10.8) <= 0.011  # stops at the tone's end, not in the noise after it
