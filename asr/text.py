"""Text normalisation and the character vocabulary (CTC blank at index 0)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

BLANK = "<blank>"
DEFAULT_CHARS = " '" + "abcdefghijklmnopqrstuvwxyz"

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def normalize_text(text: str) -> str:
    """Lower-case, strip accents and punctuation, keep letters, apostrophes and single spaces.

    "Hello,  World!" -> "hello world"; "don\u2019t" -> "don't"; hyphens become spaces.
    """
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[-_/]", " ", text)
    text = re.sub(r"[^a-z' ]", "", text)
    text = re.sub(r"(^|\s)'+|'+(\s|$)", r"\1\2", text)  # quotes, not apostrophes
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
