"""Corpus preparers: read a corpus in its own layout, write JSONL manifests.

Each preparer takes (src, out, dev_fraction, seed) and returns ``{split_name: manifest_path}``.
Rows carry an absolute ``audio`` path, ``text`` normalised with :func:`normalize_text`,
``duration`` in seconds (read from the file header), ``speaker`` and ``id``. An utterance whose
audio is missing or unreadable is logged with a warning and skipped; it never stops preparation.

    prepare_corpus("an4", "/data/an4", "data/an4")  # -> {"train": ..., "dev": ..., "test": ...}

Dev sets are carved from the training data only, by whole speakers (see :func:`split_by_speaker`);
an official test split is never touched.
"""
from __future__ import annotations

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

PathLike = Union[str, os.PathLike]
Preparer = Callable[[Path, Path, float, int], dict[str, Path]]

logger = logging.getLogger(__name__)

# Looked for, in this order, wherever a layout names audio without its extension.
AUDIO_EXTENSIONS = (".flac", ".wav", ".sph", ".opus", ".ogg", ".mp3")
# Libri-light-style trees have no official test split: about this fraction of the utterances
# (whole speakers, so no speaker is shared with train or dev) is held out as `test`.
HELD_OUT_TEST_FRACTION = 0.1
LIBRISPEECH_SUBSET = re.compile(r"^(train|dev|test)-(clean|other)(-\d+)?$")
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
    norm = normalize_text(text)
    if not norm:
        logger.warning("skipping %s: transcript %r is empty after normalisation", utt_id, text)
        return None
    return {"audio": os.path.abspath(audio), "text": norm, "duration": round(duration, 4),
            "speaker": str(speaker), "id": str(utt_id)}


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
_EVAL_NAME = re.compile(r"^(dev|test|eval|valid)", re.IGNORECASE)


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
    name = src.resolve().name
    if dev_fraction == 0 or _EVAL_NAME.match(name):  # dev is carved from training data only
        splits = {name: rows}
    else:
        train, dev = split_by_speaker(rows, dev_fraction, seed)
        splits = {"all" if name in ("train", "all") else name: rows, "train": train, "dev": dev}
    return _write("kaldi", out, splits)


# ---------------------------------------------------------------------------------------------

CORPORA: dict[str, Preparer] = {
    "an4": prepare_an4,
    "fsdd": prepare_fsdd,
    "librispeech": prepare_librispeech,
    "librilight": prepare_librispeech,
    "kaldi": prepare_kaldi,
}


def prepare_corpus(name: str, src: PathLike, out: PathLike, dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """Prepare corpus ``name`` found in ``src``; write manifests into ``out``; return {split: path}."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; expected one of {sorted(CORPORA)}")
    if not 0 <= dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    src_path = Path(src)
    if not src_path.is_dir():
        raise ValueError(f"{name}: source folder {src_path} not found")
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    return CORPORA[name](src_path, out_path, float(dev_fraction), int(seed))
