"""Corpus preparers: read a corpus in its own layout, write JSONL manifests.

Each preparer takes (src, out, dev_fraction, seed) and returns ``{split_name: manifest_path}``.
Rows carry an absolute ``audio`` path, ``text`` normalised with :func:`normalize_text`,
``duration`` in seconds (read from the file header), ``speaker`` and ``id``. An utterance whose
audio is missing or unreadable is logged with a warning and skipped; it never stops preparation.

    prepare_corpus("an4", "/data/an4", "data/an4")  # -> {"train": ..., "dev": ..., "test": ...}

Dev sets are carved from the training data only, by whole speakers (see :func:`split_by_speaker`);
an official test split is never touched. Segments of long recordings (TED-LIUM) are rows with an
``offset`` (see ``asr.data.manifest``).

Transcripts are normalised per corpus before :func:`normalize_text` (case, accents, punctuation):

=================================  ==============================================================
AN4, FSDD, LibriSpeech, Kaldi      ``normalize_text`` only (the first three write no digits)
Common Voice, LJSpeech, CSV/TSV    :func:`~asr.data.textnorm.expand_numbers` first: digits,
                                   currency, percentages, ordinals, years -> English words
TED-LIUM                           :func:`~asr.data.textnorm.clean_tedlium` first: ``{NOISE}``,
                                   ``<unk>``, ``word(2)`` removed, ``it 's`` -> ``it's``
=================================  ==============================================================
"""
from __future__ import annotations

import csv
import hashlib
import inspect
import logging
import os
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

from ..audio import AudioError, audio_duration
from ..text import normalize_text
from .manifest import write_manifest
from .textnorm import clean_tedlium, expand_numbers

PathLike = Union[str, os.PathLike]
# (src, out, dev_fraction, seed, **corpus options) -> {split: manifest path}
Preparer = Callable[..., dict[str, Path]]

logger = logging.getLogger(__name__)

# Looked for, in this order, wherever a layout names audio without its extension.
AUDIO_EXTENSIONS = (".flac", ".wav", ".sph", ".opus", ".ogg", ".mp3")
# Libri-light-style trees have no official test split: about this fraction of the utterances
# (whole speakers, so no speaker is shared with train or dev) is held out as `test`.
HELD_OUT_TEST_FRACTION = 0.1
LIBRISPEECH_SUBSET = re.compile(r"^(train|dev|test)-(clean|other)(-\d+)?$")
# Sets named like this are evaluation sets: never split, never used to carve a dev set from.
_EVAL_NAME = re.compile(r"^(dev|test|eval|valid)", re.IGNORECASE)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# ---------------------------------------------------------------------------------------------
# Shared helpers


def find_audio(stem: Path, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> Optional[Path]:
    """``dir/name`` (no extension) -> the first ``dir/name.<ext>`` that exists, else None."""
    for ext in extensions:
        for e in (ext, ext.upper()):
            p = stem.with_name(stem.name + e)
            if p.is_file():
                return p
    return None


def make_row(audio: Optional[Path], text: str, speaker: str, utt_id: str, where: str = "") -> Optional[dict]:
    """One manifest row, or None (with a warning saying why) when the utterance is unusable."""
    if audio is None:
        logger.warning("skipping %s: no audio file found%s", utt_id, f" at {where}" if where else "")
        return None
    try:
        duration = audio_duration(audio)
    except AudioError as e:  # message names the file and the problem
        logger.warning("skipping %s: %s", utt_id, e)
        return None
    if duration <= 0:
        logger.warning("skipping %s: %s: contains no audio samples", utt_id, audio)
        return None
    norm = _normalized(text, utt_id)
    if norm is None:
        return None
    return {"audio": os.path.abspath(audio), "text": norm, "duration": round(duration, 4),
            "speaker": str(speaker), "id": str(utt_id)}


def _normalized(text: str, utt_id: str) -> Optional[str]:
    """normalize_text(text), or None with a warning when nothing is left."""
    norm = normalize_text(text)
    if not norm:
        logger.warning("skipping %s: transcript %r is empty after normalisation", utt_id, text)
        return None
    return norm


def summarize(rows: Sequence[dict]) -> str:
    """'948 utterances, 0.71 h, 74 speakers'."""
    hours = sum(r["duration"] for r in rows) / 3600
    return f"{len(rows)} utterances, {hours:.2f} h, {len({r['speaker'] for r in rows})} speakers"


def _write(corpus: str, out: Path, splits: dict[str, list[dict]]) -> dict[str, Path]:
    """Write ``out/<split>.jsonl`` for each split, log a summary, return the paths."""
    if not any(splits.values()):
        raise ValueError(f"{corpus}: no usable utterances found (see the warnings above)")
    paths = {}
    for name, rows in splits.items():
        paths[name] = out / f"{name}.jsonl"
        write_manifest(paths[name], rows)
        log = logger.warning if not rows else logger.info
        log("%s %s: %s -> %s", corpus, name, summarize(rows), paths[name])
    return paths


def _require(corpus: str, path: Path, layout: str) -> Path:
    if not path.is_file():
        raise ValueError(f"{corpus}: {path} not found; expected {layout}")
    return path


def split_by_speaker(rows: Sequence[dict], dev_fraction: float, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Split rows into (train, dev) by whole speakers; no speaker is in both.

    Speakers are shuffled deterministically (sorted, then ``random.Random(seed)``) and taken into
    dev in that order while each one brings the dev size closer to ``dev_fraction`` of the rows
    (a speaker that would overshoot more than it helps is passed over). Dev gets at least one
    speaker (the one nearest the target size if none fits) and never all of them; train keeps at
    least one. ``dev_fraction == 0`` gives an empty dev set. Row order is kept in both outputs.
    """
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    if dev_fraction == 0 or not rows:
        return list(rows), []
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r["speaker"]] += 1
    if len(counts) < 2:
        raise ValueError(f"cannot carve a speaker-disjoint dev set from {len(counts)} speaker(s) "
                         f"({sorted(counts)}); use dev_fraction=0")
    speakers = sorted(counts)
    random.Random(seed).shuffle(speakers)
    candidates = speakers[:-1]  # the last speaker always stays in train
    target, taken, dev_speakers = dev_fraction * len(rows), 0, set()
    for spk in candidates:
        if taken >= target:
            break
        if taken + counts[spk] - target <= target - taken:  # closer to the target with it than without
            dev_speakers.add(spk)
            taken += counts[spk]
    if not dev_speakers:
        dev_speakers.add(min(candidates, key=lambda s: abs(counts[s] - target)))
    train = [r for r in rows if r["speaker"] not in dev_speakers]
    dev = [r for r in rows if r["speaker"] in dev_speakers]
    return train, dev


def split_by_utterance(rows: Sequence[dict], dev_fraction: float, test_fraction: float,
                       seed: int = 0) -> tuple[list[dict], list[dict], list[dict]]:
    """Split rows into (train, dev, test) by utterance id, for corpora with a single speaker.

    Ids are ordered by a hash of (seed, id) -- deterministic, independent of row order and of
    Python's hash seed -- and the first ``round(test_fraction * n)`` go to test, the next
    ``round(dev_fraction * n)`` to dev (at least one each when the fraction is > 0), the rest to
    train. The three sets never overlap; row order is kept in each.
    """
    for name, f in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"{name} must be in [0, 1), got {f}")
    n = len(rows)
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    n_dev = max(1, round(dev_fraction * n)) if dev_fraction > 0 else 0
    if n and n_test + n_dev >= n:
        raise ValueError(f"cannot hold out {n_test} test and {n_dev} dev utterances from {n}; lower the fractions")
    order = sorted(rows, key=lambda r: hashlib.sha1(f"{seed}:{r['id']}".encode()).hexdigest())
    test_ids = {r["id"] for r in order[:n_test]}
    dev_ids = {r["id"] for r in order[n_test : n_test + n_dev]}
    held_out = test_ids | dev_ids
    return ([r for r in rows if r["id"] not in held_out], [r for r in rows if r["id"] in dev_ids],
            [r for r in rows if r["id"] in test_ids])


def _pool_splits(name: str, rows: list[dict], dev_fraction: float, seed: int) -> dict[str, list[dict]]:
    """A set with no official split: ``{name: rows}``, plus ``train``/``dev`` by speaker.

    A set named like an evaluation set (dev*, test*, eval*, valid*) or ``dev_fraction == 0`` is
    written whole; a set named ``train`` or ``all`` is written as ``all`` beside the split.
    """
    if dev_fraction == 0 or _EVAL_NAME.match(name):  # dev is carved from training data only
        return {name: rows}
    train, dev = split_by_speaker(rows, dev_fraction, seed)
    return {"all" if name in ("train", "all") else name: rows, "train": train, "dev": dev}


def _read_table(path: Path, delimiter: str, quoting: int = csv.QUOTE_MINIMAL) -> tuple[list[str], list[dict]]:
    """A delimited text file with a header -> (column names, rows as {column: value})."""
    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: a BOM is not part of the header
        reader = csv.DictReader(f, delimiter=delimiter, quoting=quoting)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        return header, list(reader)


# ---------------------------------------------------------------------------------------------
# CMU AN4


AN4_LAYOUT = ("the CMU AN4 layout: etc/an4_{train,test}.transcription, etc/an4_{train,test}.fileids "
              "and wav/an4_clstk/<speaker>/<id>.{sph,wav,flac}, wav/an4test_clstk/...")
_AN4_LINE = re.compile(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^()\s]+)\)\s*$")


def _an4_split(root: Path, split: str) -> list[dict]:
    trans = _require("an4", root / "etc" / f"an4_{split}.transcription", AN4_LAYOUT)
    fileids = _require("an4", root / "etc" / f"an4_{split}.fileids", AN4_LAYOUT)
    texts = {}
    for n, line in enumerate(trans.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _AN4_LINE.match(line)
        if m is None:
            logger.warning("an4: %s:%d: not '<s> TEXT </s> (utt-id)', skipped: %r", trans, n, line)
            continue
        texts[m.group(2)] = m.group(1)
    rows = []
    for rel in fileids.read_text(encoding="utf-8").split():
        utt = Path(rel).name
        if utt not in texts:
            logger.warning("an4: skipping %s: no transcript in %s", rel, trans)
            continue
        stem = root / "wav" / rel
        row = make_row(find_audio(stem), texts[utt], Path(rel).parent.name, utt, f"{stem}.*")
        if row is not None:
            rows.append(row)
    return rows


def prepare_an4(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """CMU AN4 -> train.jsonl, dev.jsonl (speakers carved from train), test.jsonl."""
    root = src / "an4" if not (src / "etc").is_dir() and (src / "an4" / "etc").is_dir() else src
    train_all = _an4_split(root, "train")
    test = _an4_split(root, "test")
    train, dev = split_by_speaker(train_all, dev_fraction, seed)
    return _write("an4", out, {"train": train, "dev": dev, "test": test})


# ---------------------------------------------------------------------------------------------
# Free Spoken Digit Dataset

_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)$")
FSDD_TEST_INDICES = range(0, 5)  # the official split


def prepare_fsdd(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """FSDD ``recordings/<digit>_<speaker>_<index>.wav`` -> train.jsonl, dev.jsonl, test.jsonl.

    Test is the official split (index 0-4). FSDD has only 6 speakers, so a speaker-disjoint dev
    set would hold out a sixth of the voices and a sixth of the training data, and the official
    test set is not speaker-disjoint either. Dev is instead the lowest ``dev_fraction`` of the
    training indices (index 5-9 of 5-49 at 0.1) for every digit and speaker. ``seed`` is unused.
    """
    rec = src / "recordings" if (src / "recordings").is_dir() else src
    files = sorted(p for p in rec.glob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and _FSDD_NAME.match(p.stem))
    if not files:
        raise ValueError(f"fsdd: no <digit>_<speaker>_<index>.wav files in {rec}; expected the Free Spoken "
                         "Digit Dataset layout recordings/<digit>_<speaker>_<index>.wav")
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    parsed = [(p, *_FSDD_NAME.match(p.stem).groups()) for p in files]
    train_indices = sorted({int(i) for *_, i in parsed if int(i) not in FSDD_TEST_INDICES})
    n_dev = max(1, round(dev_fraction * len(train_indices))) if dev_fraction > 0 else 0
    dev_indices = set(train_indices[:n_dev])
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for path, digit, speaker, index in parsed:
        row = make_row(path, DIGIT_WORDS[int(digit)], speaker, path.stem)
        if row is None:
            continue
        i = int(index)
        split = "test" if i in FSDD_TEST_INDICES else "dev" if i in dev_indices else "train"
        splits[split].append(row)
    return _write("fsdd", out, splits)


# ---------------------------------------------------------------------------------------------
# LibriSpeech / Libri-light


def _librispeech_rows(trans_files: Iterable[Path]) -> list[dict]:
    rows = []
    for trans in trans_files:
        for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            utt = parts[0]
            text = parts[1] if len(parts) > 1 else ""
            stem = trans.parent / utt
            row = make_row(find_audio(stem), text, utt.split("-")[0], utt, f"{stem}.*")
            if row is not None:
                rows.append(row)
    return rows


def prepare_librispeech(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """Any tree of ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` with audio beside it.

    With standard subset folders (``train-clean-100``, ``dev-clean``, ... directly under ``src``
    or under ``src/LibriSpeech``, or ``src`` itself being one) this writes one manifest per subset.
    Otherwise (Libri-light ``1h/0/clean/...``, ``9h/other/...``) it writes ``all`` and splits it
    by speaker: ``test`` holds out HELD_OUT_TEST_FRACTION of the utterances (whole speakers), then
    ``dev`` takes ``dev_fraction`` of the rest; the three sets share no speaker.
    """
    base = src / "LibriSpeech" if (src / "LibriSpeech").is_dir() else src
    trans_files = sorted(base.rglob("*.trans.txt"))
    if not trans_files:
        raise ValueError(f"librispeech: no *.trans.txt under {src}; expected the LibriSpeech layout "
                         "<speaker>/<chapter>/<speaker>-<chapter>.trans.txt with <utt-id>.flac beside it")
    if LIBRISPEECH_SUBSET.match(base.name):
        return _write("librispeech", out, {base.name: _librispeech_rows(trans_files)})
    tops = sorted({t.relative_to(base).parts[0] for t in trans_files})
    subsets = [t for t in tops if LIBRISPEECH_SUBSET.match(t)]
    if subsets:  # never mix e.g. dev-clean into a training set: subset folders win
        if len(subsets) < len(tops):
            logger.warning("librispeech: ignoring %s: not standard subset folders", sorted(set(tops) - set(subsets)))
        splits = {s: _librispeech_rows(t for t in trans_files if t.relative_to(base).parts[0] == s)
                  for s in subsets}
        return _write("librispeech", out, splits)
    rows = _librispeech_rows(trans_files)
    rest, test = split_by_speaker(rows, HELD_OUT_TEST_FRACTION, seed)
    train, dev = split_by_speaker(rest, dev_fraction, seed + 1)
    return _write("librispeech", out, {"all": rows, "train": train, "dev": dev, "test": test})


# ---------------------------------------------------------------------------------------------
# Kaldi data directory

KALDI_LAYOUT = "a Kaldi data directory with wav.scp and text (utt2spk optional)"


def _kaldi_table(path: Path) -> dict[str, str]:
    """``key value...`` lines -> {key: value}; value keeps its inner spaces."""
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if parts:
            table[parts[0]] = parts[1] if len(parts) > 1 else ""
    return table


def _kaldi_audio(data_dir: Path, entry: str) -> tuple[Optional[Path], str]:
    """A wav.scp value -> (existing path or None, where it was looked for)."""
    p = Path(entry)
    candidates = [p] if p.is_absolute() else [data_dir.parent / p, data_dir / p, Path.cwd() / p]
    for c in candidates:
        if c.is_file():
            return c, str(c)
    return None, " or ".join(str(c) for c in candidates)


def prepare_kaldi(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """A Kaldi data dir -> ``<dirname>.jsonl``, plus ``train``/``dev`` by speaker if dev_fraction > 0.

    wav.scp paths may be absolute, or relative to the data dir's parent (the recipe folder, the
    Kaldi convention), the data dir itself or the current folder. Piped commands (``... |``) are
    skipped with a warning. Without utt2spk each utterance is its own speaker. A dir named like an
    evaluation set (dev*, test*, eval*, valid*) is never split. When the whole set would be named
    like a split (a dir named ``train``), it is written as ``all`` instead.
    """
    wav_scp = _require("kaldi", src / "wav.scp", KALDI_LAYOUT)
    texts = _kaldi_table(_require("kaldi", src / "text", KALDI_LAYOUT))
    if (src / "segments").is_file():
        raise ValueError(f"kaldi: {src / 'segments'} found; utterances cut from longer recordings are "
                         "not supported, extract them to files first")
    utt2spk = _kaldi_table(src / "utt2spk") if (src / "utt2spk").is_file() else {}
    entries = _kaldi_table(wav_scp)
    rows = []
    for utt, entry in entries.items():
        if entry.rstrip().endswith("|"):
            logger.warning("skipping %s: piped wav.scp command not supported: %r", utt, entry)
            continue
        if utt not in texts:
            logger.warning("skipping %s: no transcript in %s", utt, src / "text")
            continue
        audio, where = _kaldi_audio(src, entry)
        row = make_row(audio, texts[utt], utt2spk.get(utt, utt), utt, where)
        if row is not None:
            rows.append(row)
    missing = len(texts.keys() - entries.keys())
    if missing:
        logger.warning("kaldi: %d utterances in %s have no wav.scp entry", missing, src / "text")
    return _write("kaldi", out, _pool_splits(src.resolve().name, rows, dev_fraction, seed))


# ---------------------------------------------------------------------------------------------
# Mozilla Common Voice

CV_LAYOUT = ("a Common Voice locale folder (cv-corpus-*/<locale>): clips/*.mp3 with train.tsv, dev.tsv "
             "and test.tsv, or validated.tsv")
CV_SPLITS = ("train", "dev", "test")
_CV_LOCALE = re.compile(r"^common_voice_([a-z]{2,3})[_-]", re.IGNORECASE)


def _cv_root(src: Path) -> Path:
    """The locale folder: ``src`` itself, or the only folder one or two levels down holding the TSVs."""
    def has_tsv(d: Path) -> bool:
        return any((d / f"{n}.tsv").is_file() for n in (*CV_SPLITS, "validated"))

    if has_tsv(src):
        return src
    found = sorted({d for d in [*src.glob("*"), *src.glob("*/*")] if d.is_dir() and has_tsv(d)})
    if len(found) > 1:
        raise ValueError(f"commonvoice: several locale folders under {src}: {[str(d) for d in found]}; "
                         "prepare one at a time")
    if not found:
        raise ValueError(f"commonvoice: no train.tsv or validated.tsv under {src}; expected {CV_LAYOUT}")
    return found[0]


def _cv_rows(root: Path, tsv: Path) -> list[dict]:
    # The TSVs are not quoted (sentences contain bare '"'); columns are found by name: their order
    # and number vary between releases.
    header, records = _read_table(tsv, "\t", csv.QUOTE_NONE)
    missing = [c for c in ("client_id", "path", "sentence") if c not in header]
    if missing:
        raise ValueError(f"commonvoice: {tsv} has no column {missing} (columns: {header})")
    rows = []
    for rec in records:
        name, text = rec["path"] or "", rec["sentence"] or ""
        utt = Path(name).stem
        clip = root / "clips" / name
        named = _CV_LOCALE.match(name)
        locale = rec.get("locale") or (named.group(1) if named else "en")
        if locale.lower().startswith("en"):
            text = expand_numbers(text)
        elif re.search(r"\d", text):  # English number words would be wrong; dropping the digits too
            logger.warning("skipping %s: digits in a %s sentence cannot be spelled out: %r", utt, locale, text)
            continue
        audio = clip if Path(name).suffix else find_audio(clip)
        row = make_row(audio, text, rec["client_id"] or utt, utt, f"{clip}.*")
        if row is not None:
            rows.append(row)
    return rows


def prepare_commonvoice(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """Common Voice ``clips/*.mp3`` + ``train.tsv``/``dev.tsv``/``test.tsv`` -> one manifest per split.

    The official splits are used as they are (``dev_fraction`` is then unused); a missing one is
    reported and left out. Only when none of them exists, ``validated.tsv`` is written as ``all``
    and split by speaker like Libri-light: ``test`` holds out HELD_OUT_TEST_FRACTION, ``dev`` takes
    ``dev_fraction`` of the rest. Speaker = ``client_id``; id = the clip name without extension.
    ``src`` may be the locale folder or a folder above it holding a single locale.

    Text: English sentences (``locale`` column, else the clip name ``common_voice_en_*``) get
    :func:`expand_numbers` ("1984" -> "nineteen eighty four"); a sentence in another language
    that contains digits is skipped with a warning, since no words for it can be written.
    """
    root = _cv_root(src)
    present = [s for s in CV_SPLITS if (root / f"{s}.tsv").is_file()]
    if present:
        if len(present) < len(CV_SPLITS):
            logger.warning("commonvoice: no %s in %s", [f"{s}.tsv" for s in CV_SPLITS if s not in present], root)
        return _write("commonvoice", out, {s: _cv_rows(root, root / f"{s}.tsv") for s in present})
    rows = _cv_rows(root, root / "validated.tsv")
    rest, test = split_by_speaker(rows, HELD_OUT_TEST_FRACTION, seed)
    train, dev = split_by_speaker(rest, dev_fraction, seed + 1)
    return _write("commonvoice", out, {"all": rows, "train": train, "dev": dev, "test": test})


# ---------------------------------------------------------------------------------------------
# LJSpeech

LJSPEECH_LAYOUT = "the LJSpeech layout: metadata.csv (<id>|<text>|<normalized text>) and wavs/<id>.wav"


def prepare_ljspeech(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """LJSpeech ``metadata.csv`` + ``wavs/<id>.wav`` -> train.jsonl, dev.jsonl, test.jsonl.

    One speaker, so dev and test cannot be whole speakers: they are utterances, carved with
    :func:`split_by_utterance` -- HELD_OUT_TEST_FRACTION of the utterances (10%, 1,310 of 13,100)
    for test and ``dev_fraction`` for dev, chosen by a hash of (seed, id): the same ids whatever
    the file order, never overlapping. Neighbouring sentences of one book can land in different
    sets. Speaker = the corpus folder's name.

    Text: the normalized column (numbers and abbreviations already spelled out) when present, else
    the raw one; then :func:`expand_numbers` for any digits left.
    """
    root = src / "LJSpeech-1.1" if not (src / "metadata.csv").is_file() and (src / "LJSpeech-1.1").is_dir() else src
    meta = _require("ljspeech", root / "metadata.csv", LJSPEECH_LAYOUT)
    speaker = root.resolve().name
    rows = []
    # Not read as CSV: the text is unquoted and may contain '"' and ','.
    for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 2:
            logger.warning("ljspeech: %s:%d: not '<id>|<text>', skipped: %r", meta, n, line)
            continue
        utt = parts[0].strip()
        text = parts[2] if len(parts) > 2 and parts[2].strip() else parts[1]
        stem = root / "wavs" / utt
        row = make_row(find_audio(stem), expand_numbers(text), speaker, utt, f"{stem}.*")
        if row is not None:
            rows.append(row)
    train, dev, test = split_by_utterance(rows, dev_fraction, HELD_OUT_TEST_FRACTION, seed)
    return _write("ljspeech", out, {"train": train, "dev": dev, "test": test})


# ---------------------------------------------------------------------------------------------
# TED-LIUM

TEDLIUM_LAYOUT = ("TED-LIUM: sph/<talk>.sph with stm/<talk>.stm, in one folder or in each of train/, dev/, "
                  "test/ (TED-LIUM 3: TEDLIUM_release-3/legacy/{train,dev,test} or TEDLIUM_release-3/data)")
TEDLIUM_SPLITS = ("train", "dev", "test")
MIN_SEGMENT_SECONDS = 0.05  # shorter segments (after clipping to the file's end) are dropped


def _tedlium_folders(src: Path) -> tuple[dict[str, Path], bool]:
    """({split or folder name: folder with sph/ and stm/}, whether these are the official splits)."""
    for base in (src, src / "legacy", *sorted(src.glob("*/legacy"))):
        splits = {s: base / s for s in TEDLIUM_SPLITS if (base / s / "stm").is_dir()}
        if splits:
            return splits, True
    for folder in (src, src / "data", *sorted(src.glob("*/data"))):
        if (folder / "stm").is_dir():
            return {folder.resolve().name: folder}, False
    raise ValueError(f"tedlium: no stm/ folder under {src}; expected {TEDLIUM_LAYOUT}")


def _recording(stem: Path) -> Optional[tuple[Path, float]]:
    """(audio file, seconds) of a long recording, or None with a warning when it is unusable."""
    audio = find_audio(stem)
    if audio is None:
        logger.warning("tedlium: skipping the segments of %s: no audio file found at %s.*", stem.name, stem)
        return None
    try:
        return audio, audio_duration(audio)
    except AudioError as e:
        logger.warning("tedlium: skipping the segments of %s: %s", stem.name, e)
        return None


def _tedlium_talk(folder: Path, stm: Path, durations: dict[str, Optional[tuple[Path, float]]]) -> list[dict]:
    """The rows of one .stm file; ``durations`` caches (audio, seconds) per recording (None: unusable)."""
    rows = []
    for n, line in enumerate(stm.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts or line.startswith(";;"):
            continue
        if len(parts) < 5:
            logger.warning("tedlium: %s:%d: not 'file channel speaker start end [<label>] text', skipped", stm, n)
            continue
        name, _channel, speaker, start, end, *words = parts
        if words and words[0].startswith("<") and words[0].endswith(">"):
            words = words[1:]  # the <o,f0,male> label
        text = " ".join(words)
        if "ignore_time_segment_in_scoring" in text:
            continue
        try:
            t0, t1 = float(start), float(end)
        except ValueError:
            logger.warning("tedlium: %s:%d: times %r %r are not numbers, skipped", stm, n, start, end)
            continue
        utt = f"{name}-{round(t0 * 100):07d}-{round(t1 * 100):07d}"
        if name not in durations:  # read each recording's header once, not once per segment
            durations[name] = _recording(folder / "sph" / name)
        if durations[name] is None:
            continue
        audio, total = durations[name]
        t1 = min(t1, total)  # stm end times may run a little past the end of the recording
        if t1 - t0 < MIN_SEGMENT_SECONDS:
            logger.warning("skipping %s: segment %.2f-%s s lies outside %s (%.2f s)", utt, t0, end, audio, total)
            continue
        norm = _normalized(clean_tedlium(text), utt)
        if norm is not None:
            rows.append({"audio": os.path.abspath(audio), "offset": round(t0, 4), "duration": round(t1 - t0, 4),
                         "text": norm, "speaker": speaker, "id": utt})
    return rows


def prepare_tedlium(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """TED-LIUM ``sph/*.sph`` + ``stm/*.stm`` -> manifests of segments cut from the talks.

    Each stm line ``file channel speaker start end <label> transcript`` becomes a row with the
    talk's audio, ``offset`` = start and ``duration`` = end - start (seconds; clipped to the end
    of the recording). ``ignore_time_segment_in_scoring`` segments are skipped. Speaker = the stm
    speaker field; id = ``<file>-<start cs>-<end cs>`` (centiseconds, as in Kaldi).

    Folders: with ``train/``, ``dev/``, ``test/`` (each holding sph/ and stm/) directly in ``src``
    or in ``src/legacy`` (TED-LIUM 3's release folder), those are the splits and ``dev_fraction``
    is unused. Otherwise a single folder with sph/ and stm/ (``src``, or ``src/data``, TED-LIUM 3's
    training talks) is written under its name and, unless it is named like an evaluation set,
    split into train/dev by whole speakers as for Kaldi dirs.

    Text: :func:`clean_tedlium` -- ``{NOISE}``, ``<unk>`` and ``(2)`` variants removed, split
    contractions (``it 's``) joined. Numbers are already words in TED-LIUM.
    """
    folders, official = _tedlium_folders(src)
    splits = {}
    for name, folder in folders.items():
        durations: dict[str, Optional[tuple[Path, float]]] = {}
        stms = sorted((folder / "stm").glob("*.stm"))
        if not stms:
            logger.warning("tedlium: no .stm files in %s", folder / "stm")
        splits[name] = [r for stm in stms for r in _tedlium_talk(folder, stm, durations)]
    if official:
        return _write("tedlium", out, splits)
    ((name, rows),) = splits.items()
    return _write("tedlium", out, _pool_splits(name, rows, dev_fraction, seed))


# ---------------------------------------------------------------------------------------------
# Any CSV / TSV with a header

CSV_PATH_COLUMNS = ("path", "audio", "audio_path", "audio_filepath", "file", "filename", "file_name", "wav",
                    "wav_filename")
CSV_TEXT_COLUMNS = ("text", "transcript", "transcription", "sentence")
CSV_SPEAKER_COLUMNS = ("speaker", "speaker_id", "client_id")


def _csv_file(src: Path) -> Path:
    if src.is_file():
        return src
    found = sorted(p for p in src.glob("*") if p.suffix.lower() in (".csv", ".tsv") and p.is_file())
    if len(found) != 1:
        raise ValueError(f"csv: {src} holds {len(found)} .csv/.tsv files ({[p.name for p in found]}); "
                         "name the file itself")
    return found[0]


def _csv_dialect(path: Path) -> tuple[str, int]:
    """(delimiter, quoting): tab and no quoting for .tsv; otherwise sniffed, ',' if unsure."""
    if path.suffix.lower() == ".tsv":
        return "\t", csv.QUOTE_NONE
    with open(path, encoding="utf-8-sig", newline="") as f:
        sample = f.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter, csv.QUOTE_MINIMAL
    except csv.Error:
        return ",", csv.QUOTE_MINIMAL


def _csv_column(header: Sequence[str], wanted: Optional[str], defaults: Sequence[str], what: str,
                path: Path) -> Optional[str]:
    """The header name for a column: ``wanted`` if given (must exist), else the first default present."""
    lower = {h.lower(): h for h in header}
    if wanted is not None:
        if wanted.lower() not in lower:
            raise ValueError(f"csv: {path} has no {what} column {wanted!r} (columns: {list(header)})")
        return lower[wanted.lower()]
    return next((lower[d] for d in defaults if d in lower), None)


def prepare_csv(src: Path, out: Path, dev_fraction: float = 0.1, seed: int = 0, path_column: Optional[str] = None,
                text_column: Optional[str] = None, speaker_column: Optional[str] = None) -> dict[str, Path]:
    """A CSV/TSV file with a header -> ``<file stem>.jsonl``, plus ``train``/``dev`` by speaker.

    ``src`` is the file, or a folder holding exactly one .csv/.tsv. Columns are matched by name,
    case-insensitively: ``path_column`` (default: the first of CSV_PATH_COLUMNS present),
    ``text_column`` (CSV_TEXT_COLUMNS) and optional ``speaker_column`` (CSV_SPEAKER_COLUMNS; without
    one each utterance is its own speaker). Relative audio paths are relative to the file's folder;
    a path without an extension is looked up with AUDIO_EXTENSIONS. Delimiter: tab for ``.tsv``
    (unquoted), else sniffed among , ; tab | (',' if unsure). id = the path as written, without
    extension. Splits follow the Kaldi-dir rules (see :func:`_pool_splits`).

    Text: :func:`expand_numbers` (English number words), then :func:`normalize_text`.
    """
    path = _csv_file(src)
    delimiter, quoting = _csv_dialect(path)
    header, records = _read_table(path, delimiter, quoting)
    audio_col = _csv_column(header, path_column, CSV_PATH_COLUMNS, "path", path)
    text_col = _csv_column(header, text_column, CSV_TEXT_COLUMNS, "text", path)
    speaker_col = _csv_column(header, speaker_column, CSV_SPEAKER_COLUMNS, "speaker", path)
    if audio_col is None or text_col is None:
        what = "an audio path" if audio_col is None else "a text"
        raise ValueError(f"csv: {path}: no {what} column among {list(header)}; name it with "
                         "path_column/text_column (--path-column/--text-column)")
    rows = []
    for n, rec in enumerate(records, 2):  # line 1 is the header
        value = (rec.get(audio_col) or "").strip()
        if not value:
            logger.warning("csv: %s:%d: empty %s, skipped", path, n, audio_col)
            continue
        rel = Path(value)
        audio = rel if rel.is_absolute() else path.parent / rel
        utt = rel.with_suffix("").as_posix()
        speaker = (rec.get(speaker_col) or "").strip() if speaker_col else ""
        row = make_row(audio if rel.suffix else find_audio(audio), expand_numbers(rec.get(text_col) or ""),
                       speaker or utt, utt, f"{audio}.*")
        if row is not None:
            rows.append(row)
    return _write("csv", out, _pool_splits(path.stem, rows, dev_fraction, seed))


# ---------------------------------------------------------------------------------------------

CORPORA: dict[str, Preparer] = {
    "an4": prepare_an4,
    "fsdd": prepare_fsdd,
    "librispeech": prepare_librispeech,
    "librilight": prepare_librispeech,
    "kaldi": prepare_kaldi,
    "commonvoice": prepare_commonvoice,
    "ljspeech": prepare_ljspeech,
    "tedlium": prepare_tedlium,
    "csv": prepare_csv,
}
FILE_SOURCES = {"csv"}  # corpora whose source may be a file rather than a folder


def prepare_corpus(name: str, src: PathLike, out: PathLike, dev_fraction: float = 0.1, seed: int = 0,
                   **options: object) -> dict[str, Path]:
    """Prepare corpus ``name`` found in ``src``; write manifests into ``out``; return {split: path}.

    ``options`` go to the preparer (e.g. ``text_column=`` for csv); one it does not take is an error.
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; expected one of {sorted(CORPORA)}")
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    params = list(inspect.signature(CORPORA[name]).parameters)[4:]  # after (src, out, dev_fraction, seed)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; it takes {params or 'none'}")
    src_path = Path(src)
    if not (src_path.is_dir() or (name in FILE_SOURCES and src_path.is_file())):
        raise ValueError(f"{name}: source {'file or ' if name in FILE_SOURCES else ''}folder {src_path} not found")
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    return CORPORA[name](src_path, out_path, float(dev_fraction), int(seed), **options)
