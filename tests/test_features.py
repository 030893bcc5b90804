"""Front end: log-mel/MFCC/deltas equal librosa; streamed frames are bit-identical to offline ones."""
from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import torch

from asr.config import FeatureConfig
from asr.features import BLOCK_FRAMES, StreamingFeatures, compute_features, deltas, log_mel, mel_filters, num_frames

CONFIGS = {
    "default": FeatureConfig(),
    "8khz": FeatureConfig(sample_rate=8000, n_fft=256, win_length=200, hop_length=80, n_mels=40),
    "band": FeatureConfig(f_min=60.0, f_max=7000.0, n_mels=64),
}



def speechlike(sr: int, seconds: float = 0.6, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal: a gliding harmonic series, a wide chirp, amplitude modulation, noise.

    (samples,) float32. Unlike white noise it has a strongly peaked spectrum with a wide dynamic range.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 80 * t / seconds) / sr
    x = sum((0.3 / k) * np.sin(k * phase) for k in range(1, 12))
    x = x + 0.3 * np.sin(2 * np.pi * np.cumsum(np.linspace(300, 0.45 * sr, len(t))) / sr)
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (x + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def librosa_mel(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, frames) mel power, the reference front end."""
    return librosa.feature.melspectrogram(
        y=x, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
        n_mels=cfg.n_mels, fmin=cfg.f_min, fmax=cfg.f_max, power=2.0, center=True, pad_mode="constant",
        htk=False, norm="slaney")


def with_(cfg: FeatureConfig, **changes) -> FeatureConfig:
    return dataclasses.replace(cfg, **changes)


# ---------------------------------------------------------------- equality with librosa
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logmel_matches_librosa(name):
    cfg = CONFIGS[name]
    x = speechlike(cfg.sample_rate)
    mel = librosa_mel(x, cfg)
    ours = compute_features(torch.from_numpy(x), cfg).numpy().T
    assert ours.shape == mel.shape
    # Compare only cells whose mel power is above 1e-8 of the maximum. Both sides compute the
    # spectrum in float32, whose rounding error is absolute (a fraction of the frame's energy), so
    # in cells far below the peak the *relative* error -- which is what a log-domain tolerance
    # measures -- is float32 noise on both sides, not a property of the front end. The signal has a
    # noise floor, so the mask still keeps nearly every cell (checked below: the test cannot pass
    # by comparing nothing). Exact silence is checked separately against the floor.
    keep = mel > 1e-8 * mel.max()
    assert keep.mean() > 0.99
    ref = np.log(np.maximum(mel, cfg.log_floor))
    np.testing.assert_allclose(ours[keep], ref[keep], rtol=0, atol=1e-4)


def test_silence_hits_the_log_floor():
    cfg = FeatureConfig()
    feats = compute_features(torch.zeros(3200), cfg)
    assert torch.allclose(feats, torch.full_like(feats, float(np.log(np.float32(cfg.log_floor)))))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_mfcc_matches_librosa(name):
    cfg = with_(CONFIGS[name], kind="mfcc")
    x = speechlike(cfg.sample_rate, seed=1)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(librosa_mel(x, cfg), top_db=None), n_mfcc=cfg.n_mfcc)
    ours = compute_features(torch.from_numpy(x), cfg).numpy().T
    assert ours.shape == ref.shape == (cfg.n_mfcc, num_frames(len(x), cfg))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)  # dB


def test_mfcc_deltas_match_librosa():
    base_cfg = FeatureConfig(kind="mfcc")
    cfg = with_(base_cfg, deltas=True)
    x = torch.from_numpy(speechlike(cfg.sample_rate, seed=2))
    base = compute_features(x, base_cfg)
    full = compute_features(x, cfg)
    assert full.shape == (base.shape[0], 3 * cfg.n_mfcc) and cfg.dim == 3 * cfg.n_mfcc
    d1 = librosa.feature.delta(base.numpy().T, width=5, mode="nearest")
    d2 = librosa.feature.delta(d1, width=5, mode="nearest")
    assert torch.equal(full[:, : cfg.n_mfcc], base)
    np.testing.assert_allclose(full[:, cfg.n_mfcc : 2 * cfg.n_mfcc].numpy().T, d1, rtol=0, atol=1e-4)
    np.testing.assert_allclose(full[:, 2 * cfg.n_mfcc :].numpy().T, d2, rtol=0, atol=1e-4)


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 9])
def test_deltas_match_librosa_on_short_inputs(frames):
    x = torch.randn(frames, 6, generator=torch.Generator().manual_seed(frames))
    # librosa refuses width > frames in 'interp' mode only; 'nearest' works for any length.
    ref = librosa.feature.delta(x.numpy().T, width=5, mode="nearest").T
    np.testing.assert_allclose(deltas(x).numpy(), ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("samples", [0, 1, 79, 80, 81, 159, 160, 161, 399, 400, 401, 4321])
def test_frame_count(name, samples):
    cfg = CONFIGS[name]
    feats = compute_features(torch.zeros(samples), cfg)
    assert feats.shape == (1 + samples // cfg.hop_length, cfg.dim)
    assert num_frames(samples, cfg) == feats.shape[0]


def test_log_mel_ignores_kind():
    x = torch.from_numpy(speechlike(16000, seconds=0.2))
    assert torch.equal(log_mel(x, FeatureConfig(kind="mfcc", deltas=True)), compute_features(x, FeatureConfig()))


def test_mel_filters_cached_and_shaped():
    a = mel_filters(16000, 400, 80, 0.0, 8000.0)
    assert mel_filters(16000, 400, 80, 0.0, 8000.0) is a
    assert a.shape == (80, 201) and a.dtype == torch.float32
    ref = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney")
    np.testing.assert_allclose(a.numpy(), ref, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("shape", [(2, 100), (1, 1, 100), ()])
def test_non_1d_audio_raises(shape):
    with pytest.raises(ValueError, match=f"got {tuple(shape)}".replace("(", r"\(").replace(")", r"\)")):
        compute_features(torch.zeros(shape), FeatureConfig())


# ---------------------------------------------------------------- streaming == offline
STREAM_CONFIGS = {
    "logmel": FeatureConfig(),
    "mfcc": FeatureConfig(kind="mfcc"),
    "mfcc+deltas": FeatureConfig(kind="mfcc", deltas=True),
    "8khz-mfcc+deltas": FeatureConfig(kind="mfcc", deltas=True, sample_rate=8000, n_fft=256, win_length=200,
                                      hop_length=80, n_mels=40),
}


def blocks(n: int, pattern: str, hop: int, sr: int) -> list[int]:
    """Block sizes that cover n samples."""
    if pattern == "one":
        sizes = [1]
    elif pattern == "primes":
        sizes = [7, 13, 101, 257, 3]
    elif pattern == "hop":
        sizes = [hop]
    elif pattern == "seconds":
        sizes = [sr]
    else:  # a seeded random mixture, empty blocks included
        rng = np.random.default_rng(1234)
        sizes = rng.choice([0, 1, 2, 5, hop - 1, hop, hop + 1, 3 * hop + 7, 999, sr // 3], size=200).tolist()
    out, i = [], 0
    while sum(out) < n:
        out.append(min(sizes[i % len(sizes)], n - sum(out)))
        i += 1
    return out


def stream(extractor: StreamingFeatures, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    pieces, pos = [], 0
    for s in sizes:
        pieces.append(extractor.accept(x[pos : pos + s]))
        pos += s
    assert pos == len(x)
    pieces.append(extractor.finish())
    assert all(p.dim() == 2 for p in pieces)
    return torch.cat(pieces)


@pytest.mark.parametrize("name", sorted(STREAM_CONFIGS))
@pytest.mark.parametrize("pattern", ["one", "primes", "hop", "seconds", "mixture"])
def test_streaming_equals_offline(name, pattern):
    cfg = STREAM_CONFIGS[name]
    seconds = 0.1 if pattern == "one" else 1.1  # "seconds" blocks: a full one and a partial one
    x = torch.from_numpy(speechlike(cfg.sample_rate, seconds=seconds, seed=3))
    offline = compute_features(x, cfg)
    streamed = stream(StreamingFeatures(cfg), x, blocks(len(x), pattern, cfg.hop_length, cfg.sample_rate))
    assert streamed.shape == offline.shape
    assert torch.equal(streamed, offline)


@pytest.mark.parametrize("name", sorted(STREAM_CONFIGS))
def test_streaming_reuse_after_finish(name):
    cfg = STREAM_CONFIGS[name]
    sf = StreamingFeatures(cfg)
    a = torch.from_numpy(speechlike(cfg.sample_rate, seconds=0.4, seed=4))
    b = torch.from_numpy(speechlike(cfg.sample_rate, seconds=0.3, seed=5))
    assert torch.equal(stream(sf, a, blocks(len(a), "primes", cfg.hop_length, cfg.sample_rate)), compute_features(a, cfg))
    # finish() resets: the next utterance starts clean.
    assert torch.equal(stream(sf, b, blocks(len(b), "mixture", cfg.hop_length, cfg.sample_rate)), compute_features(b, cfg))
    # An explicit reset() part-way drops the half-fed utterance.
    sf.accept(a[:1234])
    sf.reset()
    assert sf.samples_seen == 0 and sf.frames_emitted == 0
    assert torch.equal(stream(sf, b, [len(b)]), compute_features(b, cfg))


@pytest.mark.parametrize("name", sorted(STREAM_CONFIGS))
@pytest.mark.parametrize("samples", [1, 10, 100, 255, 399])
def test_short_audio_both_ways(name, samples):
    cfg = STREAM_CONFIGS[name]
    assert samples < cfg.n_fft or samples == 399
    x = torch.from_numpy(speechlike(cfg.sample_rate, seconds=1.0, seed=6)[:samples])
    offline = compute_features(x, cfg)
    assert offline.shape == (1 + samples // cfg.hop_length, cfg.dim)
    assert torch.isfinite(offline).all()
    for sizes in ([samples], [1] * samples):
        assert torch.equal(stream(StreamingFeatures(cfg), x, sizes), offline)


def test_streaming_accepts_numpy_and_counts_samples():
    cfg = FeatureConfig()
    x = speechlike(cfg.sample_rate, seconds=0.25, seed=7)
    sf = StreamingFeatures(cfg)
    first = sf.accept(x[:1000])
    assert sf.samples_seen == 1000
    # Frame i needs samples up to i*hop + n_fft/2: only frames that are complete come out early.
    assert first.shape[0] == 1 + (1000 - cfg.n_fft // 2) // cfg.hop_length
    rest = [sf.accept(x[1000:]), sf.finish()]
    assert sf.samples_seen == 0  # finish() resets
    assert torch.equal(torch.cat([first, *rest]), compute_features(torch.from_numpy(x), cfg))


@pytest.mark.parametrize("name", sorted(STREAM_CONFIGS))
def test_long_audio_in_blocks_equals_streaming(name):
    """Past ``BLOCK_FRAMES`` frames the offline front end works block by block; the values stay
    those of the streaming front end (and hence of any other split)."""
    cfg = STREAM_CONFIGS[name]
    seconds = (2.5 * BLOCK_FRAMES * cfg.hop_length) / cfg.sample_rate  # two full blocks and a partial one
    x = torch.from_numpy(speechlike(cfg.sample_rate, seconds=seconds, seed=5))
    offline = compute_features(x, cfg)
    assert offline.shape[0] > 2 * BLOCK_FRAMES
    streamed = stream(StreamingFeatures(cfg), x, blocks(len(x), "seconds", cfg.hop_length, cfg.sample_rate))
    assert torch.equal(streamed, offline)
