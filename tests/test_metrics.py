"""Word and character error rates on hand-counted cases; corpus totals, not averages."""
from __future__ import annotations

import pytest

from asr.train.metrics import error_counts, error_rates


@pytest.mark.parametrize("ref,hyp,word,char", [
    # (sub, del, ins, ref) for words and characters (a space counts as a character)
    ("the cat sat", "the cat sat", (0, 0, 0, 3), (0, 0, 0, 11)),
    ("the cat sat", "the bat sat", (1, 0, 0, 3), (1, 0, 0, 11)),
    ("the cat sat", "the sat", (0, 1, 0, 3), (0, 4, 0, 11)),
    ("the cat", "the cat sat", (0, 0, 1, 2), (0, 0, 4, 7)),
    ("the cat", "", (0, 2, 0, 2), (0, 7, 0, 7)),
    ("", "a b", (0, 0, 2, 0), (0, 0, 3, 0)),
    ("", "", (0, 0, 0, 0), (0, 0, 0, 0)),
])
def test_error_counts(ref, hyp, word, char):
    e = error_counts(ref, hyp)
    assert tuple(e["word"][k] for k in ("sub", "del", "ins", "ref")) == word
    assert tuple(e["char"][k] for k in ("sub", "del", "ins", "ref")) == char


@pytest.mark.parametrize("ref,hyp,wer,cer", [
    ("a b c d", "a b c d", 0.0, 0.0),
    ("a b c d", "a x c d", 25.0, 100 / 7),
    ("a b c d", "a c d", 25.0, 200 / 7),
    ("a b", "a b c", 50.0, 200 / 3),
    ("a b c d", "", 100.0, 100.0),
    ("a b", "x y z w", 200.0, 200.0),  # a_b -> x_y_z_w: 2 sub + 4 ins; rates can exceed 100 %
])
def test_error_rates_single(ref, hyp, wer, cer):
    w, c = error_rates([ref], [hyp])
    assert w == pytest.approx(wer) and c == pytest.approx(cer)


def test_empty_reference_with_insertions():
    # No reference words: the insertions are counted against a denominator of at least one.
    w, c = error_rates([""], ["x y"])
    assert w == pytest.approx(200.0) and c == pytest.approx(300.0)
    assert error_rates([""], [""]) == (0.0, 0.0)


def test_corpus_rate_is_total_errors_over_total_words():
    refs = ["a", "a b c d e f g h i"]
    hyps = ["b", "a b c d e f g h i"]
    w, c = error_rates(refs, hyps)
    # 1 error in 10 reference words -> 10 %, not the mean of 100 % and 0 %.
    assert w == pytest.approx(10.0)
    assert c == pytest.approx(100 * 1 / (1 + 17))
    # An empty reference adds its insertions to the total but no words to the denominator.
    w2, _ = error_rates(refs + [""], hyps + ["x"])
    assert w2 == pytest.approx(20.0)


def test_corpus_rate_is_order_invariant_and_additive():
    refs = ["the cat sat", "on the mat", "hello"]
    hyps = ["the cat", "on a mat today", "yellow"]
    errors = sum(sum(error_counts(r, h)["word"][k] for k in ("sub", "del", "ins")) for r, h in zip(refs, hyps))
    assert error_rates(refs, hyps)[0] == pytest.approx(100 * errors / 7)
    assert error_rates(refs[::-1], hyps[::-1]) == pytest.approx(error_rates(refs, hyps))


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        error_rates(["a", "b"], ["a"])
    with pytest.raises(ValueError):
        error_rates([], ["a"])
