"""Small builders shared by several test modules (imported as ``from helpers import ...``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from asr.config import FeatureConfig, ModelConfig
from asr.features import compute_features
from asr.model import AcousticModel
from asr.text import Vocabulary

VOCAB = Vocabulary()  # blank, space, apostrophe, a-z


def log_probs(frames: list) -> torch.Tensor:
    """(T, vocab) log-probs from frames given as a character ("_" = blank; 0.9 on it) or a dict
    {char: probability}; the mass left over is shared by the other classes."""
    n = len(VOCAB)
    out = torch.empty(len(frames), n)
    for t, f in enumerate(frames):
        if isinstance(f, str):
            f = {f: 0.9}
        rest = (1.0 - sum(f.values())) / (n - len(f))
        assert rest > 0
        out[t] = rest
        for c, p in f.items():
            out[t, VOCAB.blank if c == "_" else VOCAB.encode(c)[0]] = p
    return out.log()


def spell(text: str) -> list:
    """One frame per character, a blank after each: a clean, peaky path for ``text``."""
    out: list = ["_"]
    for c in text:
        out += [c, "_"]
    return out


def speechlike(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """(samples,) float32: gliding harmonics with syllable-rate modulation plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(110 + 60 * np.sin(2 * np.pi * 1.3 * t)) / sr
    x = sum((0.25 / k) * np.sin(k * phase) for k in range(1, 15)) * np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    return (x + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def save_tiny_model(path: Path, **model) -> Path:
    """A tiny untrained model, saved. Normalised on its own input and with the blank discouraged,
    so it emits a varied, non-empty transcript: equality tests then compare something.
    ``model``: ModelConfig fields to change."""
    torch.manual_seed(0)
    fcfg = FeatureConfig()
    m = AcousticModel(fcfg, ModelConfig(**{"hidden": 16, "layers": 1, "dropout": 0.0, **model}), Vocabulary())
    f = compute_features(torch.from_numpy(speechlike(16000, 2.0, seed=99)), fcfg)
    m.set_normalization(f.mean(0), f.std(0))
    with torch.no_grad():
        m.output.bias[m.vocab.blank] = -3.0
        m.output.weight.mul_(4.0)
    m.save(path)
    return path
