"""The espeak-ng corpus: files are what the manifests say, splits are disjoint, runs repeat."""
from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.data.manifest import read_manifest
from asr.data.synth import (SPEAKERS, random_sentence, spoken_form, split_sentences, synthesize,
                            synthesize_corpus)
from asr.text import normalize_text

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed (apt-get install espeak-ng)")


def test_sentences_are_normalised_and_short() -> None:
    rng = random.Random(0)
    for _ in range(500):
        text = random_sentence(rng)
        assert normalize_text(text) == text
        assert 1 <= len(text.split()) <= 6


def test_held_out_sentences_never_in_train() -> None:
    s = split_sentences(300, 40, 40, seed=3)
    assert [len(s[k]) for k in ("train", "dev", "test")] == [300, 40, 40]
    assert not set(s["train"]) & (set(s["dev"]) | set(s["test"]))
    assert not set(s["dev"]) & set(s["test"])
    assert split_sentences(300, 40, 40, seed=3) == s
    assert split_sentences(300, 40, 40, seed=4) != s


def test_spoken_form_says_letter_names() -> None:
    assert spoken_form("b a o z") == "b [['eI]] o [[z'i:]]"
    assert spoken_form("enter five") == "enter five"


def test_bad_counts_rejected() -> None:
    with pytest.raises(ValueError, match="n_dev"):
        split_sentences(1, -1, 1, seed=0)


@needs_espeak
def test_synthesize_single(tmp_path: Path) -> None:
    path = synthesize("yes no", tmp_path / "a" / "yes.wav")
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    audio = load_audio(path)
    assert np.sqrt(np.mean(audio ** 2)) > 0.01
    # A word gap makes the same words longer.
    gap = load_audio(synthesize("yes no", tmp_path / "gap.wav", word_gap=50))
    assert len(gap) > len(audio) + 0.3 * 16000
    with pytest.raises(ValueError, match="pitch"):
        synthesize("yes", tmp_path / "x.wav", pitch=120)


@needs_espeak
def test_every_speaker_sounds_different(tmp_path: Path) -> None:
    # espeak-ng silently ignores unknown or unsupported variants; each speaker must be real.
    digests = {hashlib.md5(load_audio(synthesize("go", tmp_path / f"{i}.wav", voice=v)).tobytes()).hexdigest()
               for i, v in enumerate(SPEAKERS)}
    assert len(digests) == len(SPEAKERS)


@needs_espeak
def test_corpus(tmp_path: Path) -> None:
    manifests = synthesize_corpus(tmp_path / "c", n_train=8, n_dev=2, n_test=2, seed=1)
    assert set(manifests) == {"train", "dev", "test"}
    rows = {k: read_manifest(p) for k, p in manifests.items()}
    assert [len(rows[k]) for k in ("train", "dev", "test")] == [8, 2, 2]
    for line in manifests["train"].read_text().splitlines():
        assert '"audio": "wav/train_' in line  # relative paths
    for split_rows in rows.values():
        for r in split_rows:
            info = sf.info(r["audio"])
            assert (info.samplerate, info.channels) == (16000, 1)
            audio = load_audio(r["audio"])
            assert abs(len(audio) / 16000 - r["duration"]) < 1e-3
            assert np.sqrt(np.mean(audio ** 2)) > 0.005, r
            assert np.max(np.abs(audio)) < 0.99  # scaled, never clipped
            assert r["speaker"] in SPEAKERS and normalize_text(r["text"]) == r["text"]

    again = synthesize_corpus(tmp_path / "d", n_train=8, n_dev=2, n_test=2, seed=1)
    for k in manifests:
        first, second = read_manifest(manifests[k]), read_manifest(again[k])
        assert [r["text"] for r in first] == [r["text"] for r in second]
        assert [r["duration"] for r in first] == [r["duration"] for r in second]
    a, b = (load_audio(read_manifest(m["train"])[0]["audio"]) for m in (manifests, again))
    assert np.array_equal(a, b)  # same seed, same samples


def test_missing_espeak_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asr.data.synth as synth

    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        synthesize("yes", tmp_path / "yes.wav")
    with pytest.raises(RuntimeError, match="espeak-ng not found"):
        synthesize_corpus(tmp_path / "c", n_train=1, n_dev=0, n_test=0)
