"""Text normalisation and the character vocabulary."""
from __future__ import annotations

import pytest

from asr.text import DEFAULT_CHARS, Vocabulary, normalize_text

CASES = [
    ("Hello,  World!", "hello world"),
    ("  UPPER case\tand\nnewlines  ", "upper case and newlines"),
    ("don\u2019t DON'T don`t", "don't don't don't"),  # curly / grave apostrophes
    ("\u2018quoted\u2019 and \u201cdouble\u201d", "quoted and double"),
    ("'quoted' 'words'", "quoted words"),
    ("\"Hi,\" she said.", "hi she said"),
    ("rock 'n' roll, it's o'clock", "rock n roll it's o'clock"),
    ("well-known state-of-the-art", "well known state of the art"),
    ("well\u2014maybe \u2013 or not", "well maybe or not"),
    ("Café naïve Zoë résumé", "cafe naive zoe resume"),
    ("Straße Æsop", "strasse aesop"),
    ("a/b_c", "a b c"),
    ("...!?", ""),
    ("", ""),
]


@pytest.mark.parametrize("raw, expected", CASES)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("raw", [raw for raw, _ in CASES])
def test_normalize_text_invariants(raw):
    out = normalize_text(raw)
    assert normalize_text(out) == out  # idempotent
    assert set(out) <= set(DEFAULT_CHARS)
    assert out == out.strip() and "  " not in out
    assert all(w.strip("'") == w for w in out.split())  # apostrophes only inside words


def test_vocabulary_round_trip_and_blank():
    vocab = Vocabulary()
    assert vocab.blank == 0 and len(vocab) == len(DEFAULT_CHARS) + 1
    text = normalize_text("The quick brown fox doesn't jump")
    ids = vocab.encode(text)
    assert 0 not in ids and all(0 < i < len(vocab) for i in ids)
    assert vocab.decode(ids) == text
    assert vocab.decode([0, *ids, 0]) == text  # blanks are not characters
    assert vocab.space == vocab.encode(" ")[0]
    assert vocab.encode("a1b!") == vocab.encode("ab")  # outside characters dropped


def test_vocabulary_dict_round_trip():
    vocab = Vocabulary(chars=" abc'")
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again == vocab and again.encode("cab a") == vocab.encode("cab a")
    assert Vocabulary.from_dict({"chars": "ab"}).chars == "ab"  # type defaults to chars


def test_vocabulary_rejects_bad_input():
    with pytest.raises(ValueError, match="'aba'"):
        Vocabulary(chars="aba")
    with pytest.raises(ValueError, match="'bpe'"):
        Vocabulary.from_dict({"type": "bpe", "chars": "ab"})
