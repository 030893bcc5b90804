"""Waveform augmentation: noise at the requested SNR, noise files looped or cut, synthetic rooms
with the requested RT60, reverberation that keeps length, level and alignment, determinism, the
feature cache bypassed for augmented utterances only, and clean features for evaluation."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import speechlike

from asr.audio import load_audio
from asr.config import AugmentConfig, FeatureConfig, load_config
from asr.data.augment import (NOISE_COLORS, NoiseBank, WaveformAugment, add_noise, band_pass, colored_noise, make_rir,
                               mu_law, pad_with_room_tone, reverberate, telephone)
from asr.data.dataset import BucketSampler, TrainData, UtteranceFeatures, load_rows
from asr.features import compute_features
from asr.text import Vocabulary

SR = 16000


def snr_db(clean: np.ndarray, mixed: np.ndarray) -> float:
    noise = mixed.astype(np.float64) - clean
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))


def schroeder_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 from the slope of the energy decay curve between -5 and -25 dB (T20, extrapolated)."""
    edc = np.cumsum(rir.astype(np.float64)[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    use = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.arange(len(rir))[use] / sample_rate, edc_db[use], 1)[0]  # dB per second
    return -60.0 / slope


def write(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype=subtype)  # float: read back bit for bit
    return path


# ---------------------------------------------------------------- noise
@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
@pytest.mark.parametrize("color", sorted(NOISE_COLORS))
def test_mixed_signal_has_requested_snr(snr, color):
    clean = speechlike(SR, 1.0, seed=1)
    mixed = add_noise(clean, colored_noise(len(clean), color, np.random.default_rng(2)), snr)
    assert mixed.dtype == np.float32 and mixed.shape == clean.shape
    assert abs(snr_db(clean, mixed) - snr) < 0.5


def test_add_noise_rejects_bad_input_and_leaves_silence_alone():
    x = speechlike(SR, 0.5)
    with pytest.raises(ValueError, match="length"):
        add_noise(x, x[:-1], 10.0)
    with pytest.raises(ValueError, match="finite"):
        add_noise(x, x, float("nan"))
    silence = np.zeros(100, np.float32)
    assert np.array_equal(add_noise(silence, np.ones(100, np.float32), 0.0), silence)


def test_short_noise_files_are_looped_and_long_ones_cut(tmp_path):
    rng = np.random.default_rng(0)
    short = rng.standard_normal(SR // 4).astype(np.float32)  # 0.25 s
    long = rng.standard_normal(10 * SR).astype(np.float32)  # 10 s
    write(tmp_path / "noise" / "a" / "short.wav", short)
    (tmp_path / "noise" / "notes.txt").write_text("not audio")
    short_bank = NoiseBank(tmp_path / "noise", SR)
    long_bank = NoiseBank(write(tmp_path / "long" / "b" / "long.flac", 0.3 * long, SR, "PCM_16").parent.parent, SR)
    assert len(short_bank) == 1 and len(long_bank) == 1  # found recursively; the .txt ignored

    out = short_bank.sample(SR, np.random.default_rng(1))  # 1 s from 0.25 s: four loops
    assert out.shape == (SR,)
    phase = int(np.flatnonzero(short == out[0])[0])
    assert np.array_equal(out, np.take(short, (phase + np.arange(SR)) % len(short)))

    long_ref = load_audio(long_bank.files[0], SR)  # FLAC is 16-bit: compare with what it decodes to
    starts = set()
    for seed in range(4):
        out = long_bank.sample(SR, np.random.default_rng(seed))
        found = [s for s in np.flatnonzero(long_ref == out[0]) if np.array_equal(out, long_ref[s : s + SR])]
        assert found, "not an excerpt of the file"
        starts.add(int(found[0]))
    assert len(starts) == 4  # a random offset each time


def test_noise_at_another_sample_rate_and_unreadable_files(tmp_path):
    write(tmp_path / "n" / "8k.wav", np.random.default_rng(0).standard_normal(8000).astype(np.float32), 8000)
    (tmp_path / "n" / "broken.wav").write_bytes(b"RIFF not really a wav file")
    bank = NoiseBank(tmp_path / "n", SR)
    outs = [bank.sample(3 * SR, np.random.default_rng(s)) for s in range(6)]  # some draws hit the broken file
    assert all(o.shape == (3 * SR,) and np.isfinite(o).all() and o.std() > 0.1 for o in outs)
    assert bank._bad == {tmp_path / "n" / "broken.wav"}


def test_missing_or_empty_noise_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        NoiseBank(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no audio files"):
        NoiseBank(tmp_path / "empty")
    # Training fails at start-up, not at the first noisy utterance.
    with pytest.raises(ValueError, match="no such folder"):
        WaveformAugment(AugmentConfig(noise_prob=0.5, noise_dir=str(tmp_path / "nope")), SR)
    WaveformAugment(AugmentConfig(noise_prob=0.0, noise_dir=str(tmp_path / "nope")), SR)  # off: not looked at


def test_augment_config_rejects_bad_ranges():
    with pytest.raises(ValueError, match="noise_prob"):
        AugmentConfig(noise_prob=1.5)
    with pytest.raises(ValueError, match="reverb_rt60"):
        AugmentConfig(reverb_rt60=[0.0, 0.5])
    with pytest.raises(ValueError, match="noise_snr_db"):
        AugmentConfig(noise_snr_db=[20, 5])
    assert AugmentConfig(reverb_rt60=["3e-1", 1]).reverb_rt60 == [0.3, 1.0]


# ---------------------------------------------------------------- reverberation
@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.9])
def test_rir_has_requested_rt60(rt60):
    for seed in range(3):
        rir = make_rir(rt60, SR, np.random.default_rng(seed))
        assert rir[0] == 1.0 and np.abs(rir[1:]).max() < 1.0  # the direct path leads and is strongest
        assert abs(schroeder_rt60(rir, SR) - rt60) < 0.25 * rt60


def test_reverberation_keeps_length_level_and_alignment():
    dry = speechlike(SR, 1.5, seed=3)
    for seed in range(3):
        rir = make_rir(0.6, SR, np.random.default_rng(seed))
        wet = reverberate(dry, rir)
        assert wet.shape == dry.shape and wet.dtype == np.float32
        assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(dry**2)), rel=1e-4)
        n = 1 << (2 * len(dry)).bit_length()  # cross-correlation by FFT, lags -len+1 .. len-1
        xc = np.fft.irfft(np.fft.rfft(wet, n) * np.conj(np.fft.rfft(dry, n)), n)
        lag = int(np.argmax(xc))
        assert (lag if lag < n // 2 else lag - n) == 0
    # A pure delay is undone exactly: the direct path stays where the dry sound was.
    assert np.allclose(reverberate(dry, np.array([0, 0, 0, 1.0, 0.2], np.float32)), reverberate(dry, np.array([1.0, 0.2])), atol=1e-6)
    assert np.allclose(reverberate(dry, np.array([0, 0, 1.0], np.float32)), dry, atol=1e-6)


def test_augmentation_is_deterministic(tmp_path):
    x = speechlike(SR, 1.0)
    aug = WaveformAugment(AugmentConfig(noise_prob=1.0, reverb_prob=1.0), SR)
    a, b, c = aug.apply(x, seed=5), aug.apply(x, seed=5), aug.apply(x, seed=6)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.array_equal(make_rir(0.4, SR, np.random.default_rng(1)), make_rir(0.4, SR, np.random.default_rng(1)))

    write(tmp_path / "n" / "n.wav", np.random.default_rng(0).standard_normal(SR // 3).astype(np.float32))
    files = WaveformAugment(AugmentConfig(noise_prob=1.0, noise_dir=str(tmp_path / "n"), noise_snr_db=[12, 12]), SR)
    noisy = files.apply(x, seed=9, reverb=False)
    assert np.array_equal(noisy, files.apply(x, seed=9, reverb=False))
    assert abs(snr_db(x, noisy) - 12.0) < 0.5


def test_room_tone_padding_surrounds_the_clip():
    x = speechlike(SR, 0.5)
    g = np.random.default_rng(0)
    y = pad_with_room_tone(x, 1600, 800, -60.0, "pink", g)
    assert y.dtype == np.float32 and len(y) == len(x) + 2400
    assert np.array_equal(y[1600:-800], x)  # the clip itself is untouched, in the middle
    tone = np.concatenate([y[:1600], y[-800:]])
    assert abs(20 * np.log10(np.sqrt(np.mean(tone.astype(np.float64) ** 2))) + 60.0) < 0.5  # at the level asked
    assert np.abs(y[:1600]).max() > 0 and np.abs(y[-800:]).max() > 0  # room tone, not digital silence
    assert np.array_equal(pad_with_room_tone(x, 0, 0, -60.0, "white", g), x)
    with pytest.raises(ValueError, match=">= 0"):
        pad_with_room_tone(x, -1, 0, -60.0, "white", g)


def test_padding_augmentation_draws_lengths_in_range():
    cfg = AugmentConfig(pad_prob=1.0, pad_seconds=[0.1, 0.3], pad_level_dbfs=[-50, -50])
    aug = WaveformAugment(cfg, SR)
    x = speechlike(SR, 0.5)
    lengths = set()
    for seed in range(20):
        y = aug.apply(x, seed=seed, noise=False, reverb=False, pad=True)
        extra = len(y) - len(x)
        assert 0.2 * SR - 2 <= extra <= 0.6 * SR
        lengths.add(extra)
        assert np.array_equal(y, aug.apply(x, seed=seed, noise=False, reverb=False, pad=True))
    assert len(lengths) > 10
    # drawn for about pad_prob of the utterances; off draws nothing
    rng = random.Random(0)
    draws = [WaveformAugment(AugmentConfig(pad_prob=0.5), SR).draw(rng) for _ in range(400)]
    assert 150 < sum(d is not None for d in draws) < 250
    rng, ref = random.Random(3), random.Random(3)
    assert WaveformAugment(AugmentConfig(), SR).draw(rng) is None and rng.random() == ref.random()
    for bad in ({"pad_prob": 2.0}, {"pad_seconds": [-0.1, 0.2]}, {"pad_seconds": [0.5, 0.2]}, {"pad_level_dbfs": [-40, -60]}):
        with pytest.raises(ValueError, match="pad_"):
            AugmentConfig(**bad)


# ---------------------------------------------------------------- telephone channel
def level_db(y: np.ndarray, x: np.ndarray) -> float:
    mid = slice(len(x) // 8, -len(x) // 8)  # away from the edges
    return 10 * np.log10(np.mean(y[mid].astype(np.float64) ** 2) / np.mean(x[mid].astype(np.float64) ** 2))


@pytest.mark.parametrize("freq,inside", [(80, False), (1000, True), (2500, True), (5000, False), (7000, False)])
def test_telephone_keeps_the_voice_band_only(freq, inside):
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    y = telephone(x, SR)
    assert y.shape == x.shape and y.dtype == np.float32
    assert (abs(level_db(y, x)) < 1.5) if inside else (level_db(y, x) < -30)


def test_mu_law_is_an_8_bit_codec():
    ramp = np.linspace(-1, 1, 50001).astype(np.float32)
    coded = mu_law(ramp)
    assert len(np.unique(coded)) == 256 and np.all(np.diff(coded) >= 0)  # 256 levels, in order
    assert np.abs(coded - ramp).max() < 0.04  # coarse steps near full scale ...
    quiet = np.linspace(-0.01, 0.01, 1001).astype(np.float32)
    assert np.abs(mu_law(quiet) - quiet).max() < 5e-4  # ... fine ones near zero: that is mu-law
    assert mu_law(np.array([3.0, -3.0], np.float32)).tolist() == [1.0, -1.0]  # clipped at full scale


def test_band_pass_and_telephone_reject_impossible_settings():
    x = speechlike(SR, 0.3)
    with pytest.raises(ValueError, match="low_hz < high_hz"):
        band_pass(x, SR, 3000, 300)
    with pytest.raises(ValueError, match="low_hz < high_hz"):
        band_pass(x, 8000, 300, 4000)
    with pytest.raises(ValueError, match=">= 8000 Hz"):
        telephone(x, 4000)


def test_telephone_augmentation_is_drawn_and_deterministic():
    x = speechlike(SR, 1.0, seed=2)
    aug = WaveformAugment(AugmentConfig(telephone_prob=1.0), SR)
    a, b = (aug.apply(x, seed=4, noise=False, reverb=False, phone=True) for _ in range(2))
    assert np.array_equal(a, b) and a.shape == x.shape
    assert not np.array_equal(a, aug.apply(x, seed=5, noise=False, reverb=False, phone=True))  # band edges drawn
    spec = np.abs(np.fft.rfft(a)) ** 2
    f = np.fft.rfftfreq(len(a), 1 / SR)
    assert spec[f > 4000].sum() < 1e-4 * spec.sum()  # nothing above the 8 kHz line's band
    rng = random.Random(0)
    draws = [WaveformAugment(AugmentConfig(telephone_prob=0.25), SR).draw(rng) for _ in range(400)]
    assert 70 < sum(d is not None for d in draws) < 130
    with pytest.raises(ValueError, match="telephone_prob"):
        AugmentConfig(telephone_prob=-0.1)


# ---------------------------------------------------------------- in the training data path
@pytest.fixture()
def tiny_corpus(tmp_path) -> dict[str, Path]:
    out = {}
    for split, n in (("train", 6), ("dev", 2)):
        lines = []
        for k in range(n):
            seconds = 0.5 + 0.1 * k
            write(tmp_path / split / f"{k}.wav", speechlike(SR, seconds, seed=10 * k + len(split)))
            lines.append(json.dumps({"audio": f"{split}/{k}.wav", "text": "hello world", "duration": seconds}))
        out[split] = tmp_path / f"{split}.jsonl"
        out[split].write_text("\n".join(lines) + "\n")
    return out


def train_data(manifest: Path, aug: AugmentConfig, seed: int = 0) -> TrainData:
    rows = load_rows([str(manifest)])
    sampler = BucketSampler([r["duration"] for r in rows], batch_size=2, seed=seed)
    return TrainData(rows, FeatureConfig(), aug, Vocabulary(), sampler, seed)


def clean_features(path: str, speed: float = 1.0) -> torch.Tensor:
    return UtteranceFeatures([{"audio": path}], FeatureConfig(), cache=False).get(0, speed)


def test_batches_are_reproducible_and_resumable(tiny_corpus):
    aug = AugmentConfig(noise_prob=0.5, reverb_prob=0.5)
    full = list(train_data(tiny_corpus["train"], aug).epoch(0))
    again = list(train_data(tiny_corpus["train"], aug).epoch(0))
    resumed = list(train_data(tiny_corpus["train"], aug).epoch(0, start_batch=1))
    assert [b for b, _ in resumed] == [b for b, _ in full][1:]
    for (_, x), (_, y) in zip(full, again):
        assert torch.equal(x.feats, y.feats)
    for (_, x), (_, y) in zip(full[1:], resumed):
        assert torch.equal(x.feats, y.feats)
    other_epoch = list(train_data(tiny_corpus["train"], aug).epoch(1))
    assert any(x.feats.shape != y.feats.shape or not torch.equal(x.feats, y.feats) for (_, x), (_, y) in zip(full, other_epoch))


def test_augmented_utterances_bypass_the_feature_cache(tiny_corpus):
    data = train_data(tiny_corpus["train"], AugmentConfig(noise_prob=1.0, reverb_prob=1.0))
    for _, batch in data.epoch(0):
        for k, uid in enumerate(batch.ids):
            i = next(j for j, r in enumerate(data.rows) if r["id"] == uid)
            f = batch.feats[k, : batch.feat_lens[k]]
            speeds = [s for s in data.aug.speed_factors if clean_features(data.rows[i]["audio"], s).shape == f.shape]
            assert speeds and not any(torch.allclose(f, clean_features(data.rows[i]["audio"], s)) for s in speeds)
    assert not data.features._cache  # nothing augmented was stored

    # Half on: the clean ones are cached (and clean), the others are not.
    data = train_data(tiny_corpus["train"], AugmentConfig(noise_prob=0.5))
    n = sum(len(b.ids) for _, b in data.epoch(0))
    assert 0 < len(data.features._cache) < n
    for (i, speed), f in data.features._cache.items():
        assert torch.equal(f, clean_features(data.rows[i]["audio"], speed))


def test_augmentation_off_leaves_batches_unchanged(tiny_corpus):
    plain = train_data(tiny_corpus["train"], AugmentConfig())
    zero = train_data(tiny_corpus["train"], AugmentConfig(noise_prob=0.0, reverb_prob=0.0, noise_dir="/nonexistent"))
    for (_, x), (_, y) in zip(plain.epoch(0), zero.epoch(0)):
        assert torch.equal(x.feats, y.feats)


def test_evaluation_features_are_never_augmented(tiny_corpus, tmp_path):
    from asr.train.loop import Trainer

    cfg = load_config(None, [f"data.train=[{tiny_corpus['train']}]", f"data.dev={tiny_corpus['dev']}",
                             f"train.out_dir={tmp_path / 'run'}", "model.hidden=8", "model.layers=1",
                             "train.batch_size=2", "augment.noise_prob=1.0", "augment.reverb_prob=1.0"])
    trainer = Trainer(cfg)
    for i, row in enumerate(trainer.dev.rows):
        assert torch.equal(trainer.dev.get(i), clean_features(row["audio"]))
    # Normalisation statistics come from clean audio too.
    assert torch.equal(trainer.data.features.get(0, 1.0), clean_features(trainer.data.rows[0]["audio"]))
    _, batch = next(iter(trainer.data.epoch(0)))  # while training batches are augmented
    i = next(j for j, r in enumerate(trainer.data.rows) if r["id"] == batch.ids[0])
    f = batch.feats[0, : batch.feat_lens[0]]
    assert not any(f.shape == c.shape and torch.allclose(f, c)
                   for c in (clean_features(trainer.data.rows[i]["audio"], s) for s in cfg.augment.speed_factors))
