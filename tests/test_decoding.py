"""Greedy CTC decoding: path collapsing, text/tokens from hand-made log-probs, word timings."""
from __future__ import annotations

import math

import pytest
import torch

from asr.decoding.greedy import collapse, greedy_batch, greedy_decode
from asr.decoding.types import Hypothesis, Word
from asr.text import Vocabulary

VOCAB = Vocabulary("abc ")  # 0 blank, 1 a, 2 b, 3 c, 4 space
A, B, C, SP = 1, 2, 3, 4


def log_probs_for(path: list[int], conf: list[float] | None = None, n: int = len(VOCAB)) -> torch.Tensor:
    """(T, n) log-probs whose argmax is ``path``; frame t's best class has probability conf[t]."""
    conf = conf or [0.9] * len(path)
    p = torch.empty(len(path), n)
    for t, (k, c) in enumerate(zip(path, conf)):
        p[t] = (1 - c) / (n - 1)
        p[t, k] = c
    return p.log()


# ---------------------------------------------------------------- collapse
@pytest.mark.parametrize("path,expected", [
    ([], []),
    ([0, 0, 0], []),
    ([A], [(A, 0, 0)]),
    ([A, A, A], [(A, 0, 2)]),
    ([0, A, A, 0, B, B, B, 0], [(A, 1, 2), (B, 4, 6)]),
    ([A, 0, A], [(A, 0, 0), (A, 2, 2)]),  # a blank between repeats keeps both: a doubled letter
    ([A, A, 0, 0, A, A], [(A, 0, 1), (A, 4, 5)]),
    ([A, B, A], [(A, 0, 0), (B, 1, 1), (A, 2, 2)]),
    ([0, 0, C, 0, 0], [(C, 2, 2)]),  # leading and trailing blanks vanish
    ([A, SP, SP, B], [(A, 0, 0), (SP, 1, 2), (B, 3, 3)]),
])
def test_collapse(path, expected):
    assert collapse(path, blank=0) == expected


def test_collapse_with_another_blank_id():
    assert collapse([3, 0, 0, 3, 1, 3, 3], blank=3) == [(0, 1, 2), (1, 4, 4)]


# ---------------------------------------------------------------- greedy_decode
def test_greedy_decode_hand_made():
    path = [0, A, A, 0, B, SP, SP, 0, C, C, 0, A, 0, A, 0]
    lp = log_probs_for(path)
    hyp = greedy_decode(lp, VOCAB, frame_seconds=0.04)
    assert isinstance(hyp, Hypothesis)
    assert hyp.text == "ab caa"
    assert hyp.tokens == [A, B, SP, C, A, A]
    assert [w.text for w in hyp.words] == ["ab", "caa"]
    assert hyp.score == pytest.approx(len(path) * math.log(0.9), rel=1e-5)


def test_word_timings_and_confidences():
    path = [0, A, A, 0, B, SP, SP, 0, C, C, 0, 0]
    conf = [0.9, 0.8, 0.6, 0.9, 0.7, 0.9, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9]
    fs, offset = 0.03, 1.5
    hyp = greedy_decode(log_probs_for(path, conf), VOCAB, frame_seconds=fs, offset=offset)
    ab, c = hyp.words
    assert (ab.text, c.text) == ("ab", "c")
    # A word runs from its first token's first frame to the end of its last token's last frame.
    assert ab.start == pytest.approx(offset + 1 * fs) and ab.end == pytest.approx(offset + 5 * fs)
    assert c.start == pytest.approx(offset + 8 * fs) and c.end == pytest.approx(offset + 10 * fs)
    # Confidence: the mean best-class probability over the word's token frames (blanks excluded).
    assert ab.confidence == pytest.approx((0.8 + 0.6 + 0.7) / 3, rel=1e-5)
    assert c.confidence == pytest.approx((0.5 + 0.9) / 2, rel=1e-5)


def test_extra_spaces_make_no_empty_words():
    path = [SP, 0, A, SP, 0, SP, B, SP]
    hyp = greedy_decode(log_probs_for(path), VOCAB, frame_seconds=0.01)
    assert hyp.text == "a b"
    assert [w.text for w in hyp.words] == ["a", "b"]


@pytest.mark.parametrize("seed", range(5))
def test_timestamps_never_go_backwards(seed):
    g = torch.Generator().manual_seed(seed)
    # Random scores with a blank bias, so words of varied lengths appear.
    logits = torch.randn(300, len(VOCAB), generator=g) * 3
    logits[:, 0] += 1.0
    fs, offset = 0.03, 2.0
    hyp = greedy_decode(logits.log_softmax(-1), VOCAB, frame_seconds=fs, offset=offset)
    assert len(hyp.words) > 5
    assert hyp.text == " ".join(w.text for w in hyp.words)
    assert hyp.text.split() == [w.text for w in hyp.words]
    prev_end = offset
    for w in hyp.words:
        assert isinstance(w, Word) and w.text
        assert prev_end <= w.start < w.end <= offset + 300 * fs + 1e-9
        assert 0.0 <= w.confidence <= 1.0
        # Times are whole frames from the offset.
        for t in (w.start, w.end):
            assert (t - offset) / fs == pytest.approx(round((t - offset) / fs), abs=1e-6)
        prev_end = w.end


def test_all_blank_gives_nothing():
    hyp = greedy_decode(log_probs_for([0] * 20), VOCAB, frame_seconds=0.03)
    assert hyp.text == "" and hyp.tokens == [] and hyp.words == []


def test_empty_input_gives_nothing():
    hyp = greedy_decode(torch.zeros(0, len(VOCAB)), VOCAB, frame_seconds=0.03)
    assert hyp.text == "" and hyp.tokens == [] and hyp.words == [] and hyp.score == 0.0


@pytest.mark.parametrize("shape", [(10,), (1, 10, 5), ()])
def test_bad_shape_raises(shape):
    with pytest.raises(ValueError, match="time, vocab"):
        greedy_decode(torch.zeros(shape), VOCAB, frame_seconds=0.03)


def test_greedy_batch_equals_one_by_one():
    paths = [[0, A, 0, B, B], [C, C, SP, A, 0, 0, A, B, 0], [0]]
    lens = torch.tensor([len(p) for p in paths])
    lp = torch.zeros(len(paths), int(lens.max()), len(VOCAB))
    for i, p in enumerate(paths):
        lp[i, : len(p)] = log_probs_for(p)
        lp[i, len(p) :] = log_probs_for([A] * (lp.shape[1] - len(p)))  # padding that would decode to "a"
    batch = greedy_batch(lp, lens, VOCAB, frame_seconds=0.03)
    singles = [greedy_decode(log_probs_for(p), VOCAB, frame_seconds=0.03) for p in paths]
    assert batch == singles
    assert [h.text for h in batch] == ["ab", "c aab", ""]


def test_a_long_pause_separates_words_even_without_a_space_token():
    from asr.decoding.greedy import WORD_BREAK_GAP

    fs = 0.02
    gap = int(WORD_BREAK_GAP / fs) + 5
    path = [1, 0, 2, 0] + [0] * gap + [3, 0, 1]  # "ab", a long pause, "ca": no space token
    h = greedy_decode(log_probs_for(path), VOCAB, frame_seconds=fs)
    assert h.text == "ab ca" and [w.text for w in h.words] == ["ab", "ca"]
    assert h.words[1].start - h.words[0].end > WORD_BREAK_GAP
    short = greedy_decode(log_probs_for([1, 0, 2, 0, 0, 0, 3, 0, 1]), VOCAB, frame_seconds=fs)
    assert short.text == "abca"  # a short pause inside a word is no word break
