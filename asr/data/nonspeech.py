"""Synthetic non-speech audio for training "say nothing" (empty-transcript rows).

A model that has only ever heard speech writes letters for anything loud enough: the bundled
streaming model spelled a drum loop as "four four four". Rows marked ``"nonspeech": true`` with
an empty ``text`` teach CTC to stay blank (their target is the empty sequence); ``load_rows``
keeps them, and drops other empty transcripts as before.

The clips are procedural: melodies and chords in several timbres (sawtooth, square, triangle, FM
bell, plucked string), drums (pitch-swept kicks, noise snares and hi-hats), coloured noise and
mains hum, alone or mixed, at random levels. They are not real music; they give the model
examples of tonal and percussive sound that is not speech.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf

from .manifest import write_manifest

SR = 16000
SCALE = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, semitones


def _envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    attack = max(1, int(n * rng.uniform(0.01, 0.2)))
    env = np.exp(-np.arange(n) / (n * rng.uniform(0.2, 1.0)))
    env[:attack] *= np.linspace(0, 1, attack)
    return env


def _tone(f: float, n: int, timbre: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    if timbre == "pluck":  # Karplus-Strong: a noise burst through a decaying delay line
        period = max(2, int(SR / f))
        buf = rng.uniform(-1, 1, period)
        out = np.empty(n)
        for i in range(n):
            out[i] = buf[i % period]
            buf[i % period] = 0.5 * (buf[i % period] + buf[(i + 1) % period]) * 0.996
        return out
    if timbre == "bell":
        return np.sin(2 * np.pi * f * t + rng.uniform(1, 4) * np.sin(2 * np.pi * f * rng.choice([1.4, 2.0, 3.5]) * t))
    top = int(min(20, (SR / 2) // f))
    h = np.arange(1, top + 1)
    if timbre == "saw":
        amps = 1.0 / h
    elif timbre == "square":
        amps = np.where(h % 2 == 1, 1.0 / h, 0.0)
    else:  # triangle
        amps = np.where(h % 2 == 1, 1.0 / h ** 2, 0.0)
    return (amps[:, None] * np.sin(2 * np.pi * f * h[:, None] * t)).sum(0)


def melody(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    out = np.zeros(n)
    base = rng.uniform(80, 500)
    timbre = rng.choice(["saw", "square", "triangle", "bell", "pluck"])
    voices = int(rng.integers(1, 4))
    pos = 0
    while pos < n:
        length = min(n - pos, int(SR * rng.uniform(0.1, 0.6)))
        for _ in range(voices):
            step = SCALE[rng.integers(len(SCALE))] + 12 * int(rng.integers(-1, 2))
            out[pos : pos + length] += _tone(base * 2 ** (step / 12), length, timbre, rng) * _envelope(length, rng)
        pos += length
    return out


def drums(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    out = np.zeros(n)
    beat = rng.uniform(0.25, 0.7)
    for k in range(int(seconds / beat) + 1):
        start = int(k * beat * SR)
        m = min(int(0.3 * SR), n - start)
        if m <= 0:
            break
        t = np.arange(m) / SR
        kind = rng.choice(["kick", "snare", "hat"], p=[0.4, 0.3, 0.3])
        if kind == "kick":  # a sine swept down from ~150 Hz
            f0, f1 = rng.uniform(100, 180), rng.uniform(40, 70)
            freq = f1 + (f0 - f1) * np.exp(-t * 30)
            hit = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * rng.uniform(8, 20))
        else:
            noise = rng.standard_normal(m)
            if kind == "hat":
                noise = np.diff(noise, prepend=0.0)  # brighter
            hit = noise * np.exp(-t * (60 if kind == "hat" else rng.uniform(15, 30)))
        out[start : start + m] += hit
    return out


def coloured_noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 1.0)
    spec /= f ** rng.choice([0.0, 0.5, 1.0])  # white, pink, brown
    return np.fft.irfft(spec, n)


def hum(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f = rng.choice([50.0, 60.0])
    return sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))


def clip(rng: np.random.Generator) -> np.ndarray:
    """One clip of 2-8 s: one to three sources mixed, peak between -40 and -3 dBFS."""
    seconds = rng.uniform(2.0, 8.0)
    makers = [melody, drums, coloured_noise, hum]
    picks = rng.choice(len(makers), size=int(rng.integers(1, 4)), replace=False, p=[0.35, 0.35, 0.2, 0.1])
    mix = np.zeros(int(seconds * SR))
    for k in picks:
        part = makers[k](seconds, rng)[: len(mix)]
        mix[: len(part)] += part / (np.abs(part).max() + 1e-9) * rng.uniform(0.3, 1.0)
    peak = 10 ** (rng.uniform(-40, -3) / 20)
    return (mix / (np.abs(mix).max() + 1e-9) * peak).astype(np.float32)


def synthesize_nonspeech(out: Union[str, Path], n: int, seed: int = 0, name: str = "nonspeech") -> Path:
    """Write ``n`` clips under ``out/wav`` and ``out/{name}.jsonl`` (rows with ``"text": ""`` and
    ``"nonspeech": true``); returns the manifest."""
    out = Path(out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        audio = clip(np.random.default_rng([seed, i]))
        path = out / "wav" / f"{name}_{i:05d}.wav"
        sf.write(path, audio, SR, subtype="PCM_16")
        rows.append({"audio": f"wav/{path.name}", "text": "", "nonspeech": True, "duration": round(len(audio) / SR, 4),
                     "id": path.stem})
    manifest = out / f"{name}.jsonl"
    write_manifest(manifest, rows)
    return manifest
