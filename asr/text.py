"""Text normalisation and the vocabularies (CTC blank at index 0): characters, or SentencePiece
pieces (``asr tokenizer train``)."""
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

    def token(self, i: int) -> str:
        """Id -> its text: the blank is ``<blank>``."""
        return BLANK if i == 0 else self.chars[i - 1]

    def to_dict(self) -> dict:
        return {"type": "chars", "chars": self.chars}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        if d.get("type", "chars") != "chars":
            raise ValueError(f"unsupported vocabulary type {d.get('type')!r}")
        return cls(chars=d["chars"])


WORD_SEPARATOR = "|"  # how a SentencePiece vocabulary spells the space


class SentencePieceVocabulary:
    """SentencePiece pieces -> ids. Id 0 is the CTC blank, id i + 1 is piece i.

    The tokenizer is trained on text whose spaces are written ``|``, a user-defined symbol that is
    always a piece of its own (see :func:`train_sentencepiece`). So pieces never cross a word
    boundary and the vocabulary has a space token like the character one: greedy word grouping,
    lexicon decoding (words spelled as their pieces + ``|``) and endpointing work unchanged.
    The serialized model travels inside checkpoints (``to_dict``), so nothing else is needed.
    """

    def __init__(self, model_proto: bytes) -> None:
        try:
            import sentencepiece as spm
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ImportError("SentencePiece vocabularies need the sentencepiece package") from e
        self.model_proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        self.pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        if WORD_SEPARATOR not in self.pieces:
            raise ValueError(f"not a tokenizer from `asr tokenizer train`: no {WORD_SEPARATOR!r} piece for the space")
        self._space = self.pieces.index(WORD_SEPARATOR) + 1
        self._dropped = {i + 1 for i in range(len(self.pieces)) if self.sp.is_unknown(i) or self.sp.is_control(i)}

    @classmethod
    def load(cls, path) -> "SentencePieceVocabulary":
        from pathlib import Path

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: tokenizer model not found (make one with `asr tokenizer train`)")
        return cls(p.read_bytes())

    def __len__(self) -> int:
        return len(self.pieces) + 1

    def __eq__(self, other) -> bool:
        return isinstance(other, SentencePieceVocabulary) and other.model_proto == self.model_proto

    @property
    def blank(self) -> int:
        return 0

    @property
    def space(self) -> int:
        return self._space

    def token(self, i: int) -> str:
        """Id -> its text: the blank is ``<blank>``, the space ``" "``."""
        return BLANK if i == 0 else (" " if i == self._space else self.pieces[i - 1])

    def encode(self, text: str) -> list[int]:
        """Normalised text -> ids."""
        return [i + 1 for i in self.sp.encode(text.replace(" ", WORD_SEPARATOR))]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.pieces[i - 1] for i in ids if 0 < i <= len(self.pieces) and i not in self._dropped).replace(WORD_SEPARATOR, " ")

    def to_dict(self) -> dict:
        import base64

        return {"type": "sentencepiece", "model": base64.b64encode(self.model_proto).decode("ascii")}


def vocabulary_from_dict(d: dict):
    """The inverse of ``to_dict`` for either vocabulary type (checkpoints store it)."""
    kind = d.get("type", "chars")
    if kind == "chars":
        return Vocabulary.from_dict(d)
    if kind == "sentencepiece":
        import base64

        return SentencePieceVocabulary(base64.b64decode(d["model"]))
    raise ValueError(f"unsupported vocabulary type {kind!r}")


def make_vocabulary(tokenizer=None):
    """Characters by default; a SentencePiece vocabulary from a ``asr tokenizer train`` model."""
    return SentencePieceVocabulary.load(tokenizer) if tokenizer else Vocabulary()


def train_sentencepiece(texts, out, vocab_size: int, model_type: str = "unigram"):
    """Train a SentencePiece model on normalised ``texts``; write ``out`` (a .model file).

    ``model_type``: "unigram" or "bpe". Spaces become the ``|`` piece (see
    SentencePieceVocabulary); no extra normalisation (texts are normalised already), no BOS/EOS.
    ``vocab_size`` is an upper bound: a small corpus gets the pieces it supports.
    """
    import io
    from pathlib import Path

    import sentencepiece as spm

    if model_type not in ("unigram", "bpe"):
        raise ValueError(f"model_type must be 'unigram' or 'bpe', got {model_type!r}")
    lines = [normalize_text(t).replace(" ", WORD_SEPARATOR) for t in texts]
    lines = [t for t in lines if t]
    if not lines:
        raise ValueError("no text to train a tokenizer on")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=vocab_size, model_type=model_type,
        user_defined_symbols=[WORD_SEPARATOR], add_dummy_prefix=False, normalization_rule_name="identity",
        character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0, hard_vocab_limit=False,
        split_by_whitespace=False, max_sentencepiece_length=16, minloglevel=2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out
