"""The loaded-model API: a path and an array give the same transcript; batches equal one-by-one."""
from __future__ import annotations

import pytest
import soundfile as sf
import torch

import asr
from asr.audio import AudioError, resample
from asr.decoding.types import Hypothesis

from helpers import speechlike  # noqa: E402

SR = 16000



def test_load_model_returns_a_recognizer(rec, model_path):
    assert isinstance(rec, asr.Recognizer)
    assert rec.sample_rate == SR and not rec.model.training
    assert rec.frame_seconds == pytest.approx(0.01 * rec.model.cfg.stride)
    # A training folder works as well as the file in it.
    assert isinstance(asr.load_model(model_path.parent), asr.Recognizer)


def test_path_equals_array(rec, tmp_path):
    x = speechlike(SR, 1.2, seed=1)
    path = tmp_path / "utt.wav"
    sf.write(str(path), x, SR, subtype="FLOAT")  # lossless, so the file holds exactly x
    from_file = rec.transcribe(path)
    from_str = rec.transcribe(str(path))
    from_array = rec.transcribe(x, sample_rate=SR)
    from_tensor = rec.transcribe(torch.from_numpy(x), sample_rate=SR)
    assert isinstance(from_file, asr.Transcript) and isinstance(from_file.hypothesis, Hypothesis)
    assert from_file.text  # the equality below compares something
    for t in (from_str, from_array, from_tensor):
        assert t.text == from_file.text and t.hypothesis == from_file.hypothesis
    assert from_file.duration == pytest.approx(1.2)
    assert from_file.compute_seconds >= 0
    assert from_file.text == from_file.hypothesis.text


def test_8khz_input_is_resampled(rec, tmp_path):
    x8 = speechlike(8000, 1.0, seed=2)
    t = rec.transcribe(x8, sample_rate=8000)
    assert isinstance(t, asr.Transcript)
    assert t.duration == pytest.approx(1.0, abs=1e-3)
    # The same as resampling first, and as an 8 kHz file.
    assert t.hypothesis == rec.transcribe(resample(x8, 8000, SR), sample_rate=SR).hypothesis
    path = tmp_path / "utt8k.wav"
    sf.write(str(path), x8, 8000, subtype="FLOAT")
    from_file = rec.transcribe(path)
    assert from_file.text == t.text and from_file.duration == pytest.approx(1.0, abs=1e-3)


def test_array_without_sample_rate_raises(rec):
    with pytest.raises(ValueError, match="sample_rate"):
        rec.transcribe(speechlike(SR, 0.2))
    with pytest.raises(ValueError, match="sample_rate"):
        rec.transcribe(torch.zeros(1600))


def test_batch_equals_one_by_one(rec):
    audios = [speechlike(SR, s, seed=i) for i, s in enumerate((0.35, 1.3, 0.8, 0.05))]
    batch = rec.transcribe_batch(audios)
    singles = [rec.transcribe(a, sample_rate=SR) for a in audios]
    assert len(batch) == len(audios)
    assert [h.text for h in batch] == [t.text for t in singles]
    assert [h.tokens for h in batch] == [t.hypothesis.tokens for t in singles]
    assert any(h.text for h in batch)
    for h, t in zip(batch, singles):
        assert [(w.text, w.start, w.end) for w in h.words] == [(w.text, w.start, w.end) for w in t.hypothesis.words]


def test_missing_file_raises_audio_error(rec, tmp_path):
    missing = tmp_path / "no_such_file.wav"
    with pytest.raises(AudioError, match="no_such_file.wav"):
        rec.transcribe(missing)


def test_missing_model_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        asr.load_model(tmp_path / "missing.pt")
