"""Corpus text conventions -> words: numbers, currency, ordinals, years, TED-LIUM markup."""
from __future__ import annotations

import re

import pytest

from asr.data.textnorm import cardinal, clean_tedlium, digits, expand_numbers, ordinal, year
from asr.text import normalize_text


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty two"), (100, "one hundred"),
    (105, "one hundred five"), (999, "nine hundred ninety nine"), (1000, "one thousand"),
    (1905, "one thousand nine hundred five"), (20000, "twenty thousand"),
    (1_000_001, "one million one"), (3_400_000_000, "three billion four hundred million"),
    (-3, "minus three"), (10**15, "one " + " ".join(["zero"] * 15)),
])
def test_cardinal(n, words):
    assert cardinal(n) == words


@pytest.mark.parametrize("n, words", [
    (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"), (9, "ninth"),
    (11, "eleventh"), (12, "twelfth"), (20, "twentieth"), (21, "twenty first"), (100, "one hundredth"),
    (1000, "one thousandth"), (0, "zeroth"),
])
def test_ordinal(n, words):
    assert ordinal(n) == words


def test_ordinal_rejects_negative():
    with pytest.raises(ValueError, match="-1"):
        ordinal(-1)


@pytest.mark.parametrize("n, words", [
    (1984, "nineteen eighty four"), (1900, "nineteen hundred"), (1905, "nineteen oh five"),
    (1776, "seventeen seventy six"), (2000, "two thousand"), (2005, "two thousand five"),
    (2015, "twenty fifteen"), (1066, "one thousand sixty six"), (3000, "three thousand"),
])
def test_year(n, words):
    assert year(n) == words


@pytest.mark.parametrize("text, words", [
    ("In 1984 I paid $5 for the 3rd seat", "In nineteen eighty four I paid five dollars for the third seat"),
    ("$1", "one dollar"), ("$5.50", "five dollars fifty cents"), ("$0.99", "ninety nine cents"),
    ("$1.01", "one dollar one cent"), ("$2 million", "two million dollars"),
    ("$1.5 billion", "one point five billion dollars"), ("$1,000", "one thousand dollars"),
    ("\u00a310", "ten pounds"), ("\u20ac3", "three euros"),
    ("50%", "fifty percent"), ("2.5 %", "two point five percent"), ("100%", "one hundred percent"),
    ("21st and 2nd", "twenty first and second"), ("the 1990s", "the nineteen nineties"), ("the '60s", "the ' sixties"),
    ("1,000,000 people", "one million people"), ("pi is 3.14", "pi is three point one four"),
    ("agent 007", "agent zero zero seven"), ("1500 men", "fifteen hundred men"), ("99 bottles", "ninety nine bottles"),
    ("COVID-19", "COVID- nineteen"), ("10km", "ten km"), ("Mr. & Mrs. Smith", "mister and missus Smith"),
    ("Dr. Who, 1963.", "doctor Who, nineteen sixty three."), ("no digits here", "no digits here"),
])
def test_expand_numbers(text, words):
    assert expand_numbers(text) == words


def test_expanded_text_keeps_no_digits_after_normalisation():
    text = 'On May 3rd, 1984, 25% of 1,200 people paid $3.50 (or \u00a32) for "Model 7".'
    out = normalize_text(expand_numbers(text))
    assert not re.search(r"\d", out)
    assert out == ("on may third nineteen eighty four twenty five percent of one thousand two hundred people paid "
                   "three dollars fifty cents or two pounds for model seven")


def test_digits():
    assert digits("0420") == "zero four two zero"


@pytest.mark.parametrize("text, words", [
    ("i 've {NOISE} seen it(2) <unk> there", "i've seen it there"),
    ("we 're {BREATH} here {SMACK}", "we're here"),
    ("it 's the <sil> end", "it's the end"),
    ("plain words", "plain words"),
    ("{NOISE}", ""),
])
def test_clean_tedlium(text, words):
    assert clean_tedlium(text) == words
