"""Text normalisation and the character vocabulary (CTC blank at index 0)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

BLANK = "<blank>"
DEFAULT_CHARS = " '" + "abcdefghijklmnopqrstuvwxyz"

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
# Letters NFKD does not decompose into a-z; without this they would be deleted ("straße" -> "strae").
_LETTERS = str.maketrans({"\u00df": "ss", "\u00e6": "ae", "\u0153": "oe", "\u00f8": "o", "\u0142": "l",
                          "\u0111": "d", "\u00f0": "d", "\u00fe": "th", "\u0131": "i"})
_DASHES = re.compile(r"[-_/\u2010-\u2015\u2212]")  # hyphen, en/em dashes, minus: word separators
_QUOTES = re.compile(r"(?<![a-z])'+|'+(?![a-z])")  # an apostrophe not between two letters is a quote


def normalize_text(text: str) -> str:
    """Lower-case, strip accents and punctuation, keep letters, apostrophes and single spaces.

    "Hello,  World!" -> "hello world"; "don\u2019t" -> "don't"; hyphens become spaces.
    """
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_LETTERS)
    text = re.sub(r"\s", " ", _DASHES.sub(" ", text))  # tabs and newlines separate words too
    text = re.sub(r"[^a-z' ]", "", text)
    text = _QUOTES.sub("", text)
    return " ".join(text.split())


@dataclass
class Vocabulary:
    """Characters -> ids. Id 0 is the CTC blank; ids 1.. are ``chars`` in order."""

    chars: str = DEFAULT_CHARS
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars):
            raise ValueError(f"vocabulary has repeated characters: {self.chars!r}")
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        """Number of output classes, blank included."""
        return len(self.chars) + 1

    @property
    def blank(self) -> int:
        return 0

    @property
    def space(self) -> int:
        return self._index.get(" ", -1)

    def encode(self, text: str) -> list[int]:
        """Normalised text -> ids. Characters outside the vocabulary are dropped."""
        return [self._index[c] for c in text if c in self._index]

    def decode(self, ids: Sequence[int]) -> str:
        """Ids (no blanks expected, repeats kept) -> text."""
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))

    def to_dict(self) -> dict:
        return {"type": "chars", "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        if d.get("type", "chars") != "chars":
            raise ValueError(f"unsupported vocabulary type {d.get('type')!r}")
        return cls(chars=d["chars"])
