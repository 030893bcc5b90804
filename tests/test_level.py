"""Very quiet input is raised to a level the models know; anything else passes bit for bit."""
from __future__ import annotations

import numpy as np
import torch
from helpers import save_tiny_model, speechlike

from asr.config import ModelConfig
from asr.level import MAX_GAIN_DB, QUIET_PEAK, TARGET_PEAK, RunningGain, boost_quiet, quiet_gain
from asr.model import AcousticModel
from asr.streaming import StreamingRecognizer
from asr.transcribe import Recognizer


def test_normal_audio_is_untouched():
    x = speechlike(16000, 1.0)
    assert boost_quiet(x) is x
    assert quiet_gain(0.5) == 1.0 and quiet_gain(0.0) == 1.0  # digital silence stays silence


def test_quiet_audio_is_raised_to_the_target_within_the_gain_limit():
    x = speechlike(16000, 1.0)
    quiet = x * (0.005 / np.abs(x).max())  # needs 26 dB
    assert abs(np.abs(boost_quiet(quiet)).max() - TARGET_PEAK) < 1e-6
    hiss = np.full(100, 1e-5, np.float32)
    assert np.allclose(boost_quiet(hiss), hiss * 10 ** (MAX_GAIN_DB / 20))  # capped: hiss stays faint
    assert quiet_gain(QUIET_PEAK * 1.01) == 1.0


def test_running_gain_only_falls_as_louder_audio_arrives():
    g = RunningGain()
    a = g(np.full(10, 0.002, np.float32))
    assert np.allclose(a, 0.002 * quiet_gain(0.002))
    b = g(np.full(10, 0.5, np.float32))
    assert np.array_equal(b, np.full(10, 0.5, np.float32))
    assert np.array_equal(g(np.full(10, 0.002, np.float32)), np.full(10, 0.002, np.float32))  # peak remembered


def test_quiet_speech_is_recognised_as_the_same_speech_louder(tmp_path):
    model = AcousticModel.load(save_tiny_model(tmp_path / "m.pt"))
    x = speechlike(16000, 2.0)
    x = x * (TARGET_PEAK / np.abs(x).max())
    rec = Recognizer(model)
    quiet = x * 0.02  # 34 dB down, under QUIET_PEAK
    assert rec.transcribe(quiet, sample_rate=16000).text == rec.transcribe(x, sample_rate=16000).text
    uni = AcousticModel(model.feature_cfg, ModelConfig(hidden=32, layers=2, bidirectional=False), model.vocab).eval()
    with torch.no_grad():
        uni.output.bias[0] -= 3.0  # an untrained model that says something, so equality means something
    texts = {}
    for name, audio in (("quiet", quiet), ("loud", x)):
        stream = StreamingRecognizer(uni, boost_quiet=True)
        texts[name] = [e.text for e in stream.accept(audio.astype(np.float32)) + stream.finish() if e.kind == "final"]
    assert texts["quiet"] == texts["loud"] and any(texts["loud"])
