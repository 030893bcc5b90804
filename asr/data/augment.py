"""Waveform augmentation for training: additive noise at a random SNR, simulated reverberation,
room-tone padding around trimmed clips, and a narrow-band telephone channel.

Pure functions of (audio, parameters, numpy Generator) plus two small holders: ``NoiseBank`` (noise
recordings under a folder) and ``WaveformAugment`` (what ``AugmentConfig`` asks for, one utterance
at a time). Everything here is float32 ``(samples,)`` at one sample rate; nothing is downloaded:
without a noise folder the noise is generated, and room responses are always synthesized.
"""
from __future__ import annotations

import functools
import logging
import math
import random
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import soundfile as sf

from ..audio import AudioError, PathLike, audio_info, load_audio, resample, to_mono
from ..config import AugmentConfig
from ..transcribe import AUDIO_EXTENSIONS

log = logging.getLogger(__name__)

NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectral density ~ 1 / f**k
TELEPHONE_RATE = 8000  # G.711: 8 kHz, 8-bit mu-law
TELEPHONE_LOW_HZ = (200.0, 400.0)  # a phone line's band edges, drawn per utterance
TELEPHONE_HIGH_HZ = (3000.0, 3700.0)
DRR_RANGE_DB = (0.0, 10.0)  # direct-to-reverberant energy ratio of a synthetic room, drawn per RIR
EARLY_REFLECTIONS = 6  # discrete reflections within the first 50 ms of a synthetic room
Waveform = np.ndarray  # (samples,) float32


def _check_mono(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"{name} must be non-empty mono (samples,), got shape {audio.shape}")
    return audio


def _rms(x: np.ndarray) -> float:
    return math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))


# ---------------------------------------------------------------- noise
def add_noise(audio: Waveform, noise: Waveform, snr_db: float) -> Waveform:
    """``audio + g * noise`` with ``g`` chosen so that 10 log10(P_audio / P_noise) = ``snr_db``.

    audio, noise: (samples,), same length. Powers are means over the whole signals (pauses
    included). Silent audio or silent noise leaves the audio unchanged. No clipping: that would
    change the SNR, and features do not need [-1, 1].
    """
    audio, noise = _check_mono(audio), _check_mono(noise, "noise")
    if audio.shape != noise.shape:
        raise ValueError(f"noise must match the audio's length, got {noise.shape[0]} vs {audio.shape[0]} samples")
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    p_audio, p_noise = _rms(audio) ** 2, _rms(noise) ** 2
    if p_audio == 0.0 or p_noise == 0.0:
        return audio.astype(np.float32, copy=True)
    gain = math.sqrt(p_audio / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (audio.astype(np.float64) + gain * noise).astype(np.float32)


def colored_noise(num_samples: int, color: str, rng: np.random.Generator) -> Waveform:
    """(num_samples,) float32 noise at unit RMS: "white", "pink" (1/f) or "brown" (1/f^2),
    shaped in the frequency domain (no DC)."""
    if color not in NOISE_COLORS:
        raise ValueError(f"noise color must be one of {sorted(NOISE_COLORS)}, got {color!r}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    spec = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.arange(len(spec), dtype=np.float64)
    freqs[0] = 1.0
    spec *= freqs ** (-NOISE_COLORS[color] / 2)  # amplitude ~ power ** 0.5
    spec[0] = 0.0
    x = np.fft.irfft(spec, num_samples)
    rms = _rms(x)
    return (x / rms if rms > 0 else x).astype(np.float32)


def _excerpt(noise: np.ndarray, num_samples: int, u: float) -> np.ndarray:
    """``num_samples`` of ``noise``: cut at offset ``u`` (in [0, 1)) of the free range when long
    enough, else looped from phase ``u`` of its length."""
    n = len(noise)
    if n >= num_samples:
        start = int(u * (n - num_samples + 1))
        return noise[start : start + num_samples]
    return np.take(noise, (int(u * n) + np.arange(num_samples)) % n)


class NoiseBank:
    """Noise recordings under a folder (searched recursively), served as random excerpts.

    Files are listed once, when the bank is built, so a missing or empty folder fails at start-up;
    audio is decoded only when drawn. A file longer than the request is cut at a random offset
    (only that stretch is decoded), a shorter one is looped from a random phase. Decoded short
    files are kept in memory up to ``cache_seconds`` in all. An unreadable file is reported once
    and its draws go to the next file in the list, so what a draw returns never depends on which
    bad files an earlier part of the run happened to meet (exact resume).
    """

    def __init__(self, folder: PathLike, sample_rate: int = 16000, cache_seconds: float = 600.0) -> None:
        p = Path(folder)
        if not p.exists():
            raise ValueError(f"noise folder {p}: no such folder (augment.noise_dir)")
        if not p.is_dir():
            raise ValueError(f"noise folder {p}: not a folder (augment.noise_dir)")
        self.files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
        if not self.files:
            raise ValueError(f"noise folder {p}: no audio files in it or below it "
                             f"(looked for {', '.join(AUDIO_EXTENSIONS)}; augment.noise_dir)")
        self.folder, self.sample_rate = p, sample_rate
        self._cache: dict[Path, np.ndarray] = {}
        self._cache_left = int(cache_seconds * sample_rate)
        self._bad: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, num_samples: int, rng: np.random.Generator) -> Waveform:
        """(num_samples,) float32 noise from a random file. Draws exactly two numbers from ``rng``."""
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        k, u = int(rng.integers(len(self.files))), float(rng.random())
        for j in range(len(self.files)):
            path = self.files[(k + j) % len(self.files)]
            if path in self._bad:
                continue
            try:
                return self._read(path, num_samples, u)
            except AudioError as e:
                log.warning("skipping unreadable noise file: %s", e)
                self._bad.add(path)
        raise ValueError(f"noise folder {self.folder}: none of its {len(self.files)} audio files is readable")

    def _read(self, path: Path, num_samples: int, u: float) -> np.ndarray:
        if path in self._cache:
            return _excerpt(self._cache[path], num_samples, u)
        sr, frames, _ = audio_info(path)
        need = math.ceil(num_samples * sr / self.sample_rate) + 64  # + resampler edge
        if 0 < frames < 2**62 and frames > need:  # long: decode only the excerpt
            start = int(u * (frames - need + 1))
            try:
                block, _ = sf.read(str(path), start=start, frames=need, dtype="float32", always_2d=True)
            except Exception as e:
                raise AudioError(f"{path}: cannot decode audio ({e})") from e
            out = resample(to_mono(block), sr, self.sample_rate)
            if not np.isfinite(out).all():
                raise AudioError(f"{path}: contains NaN or infinite samples")
            return _excerpt(out, num_samples, 0.0)  # a few samples short at worst: looped
        audio = load_audio(path, self.sample_rate)
        if len(audio) <= self._cache_left:
            self._cache[path] = audio
            self._cache_left -= len(audio)
        return _excerpt(audio, num_samples, u)


# ---------------------------------------------------------------- reverberation
def make_rir(rt60: float, sample_rate: int, rng: np.random.Generator, drr_db: Optional[float] = None,
             early_reflections: int = EARLY_REFLECTIONS) -> Waveform:
    """A synthetic room impulse response, (taps,) float32 with taps = rt60 * sample_rate.

    Tap 0 is the direct path (1.0). After a 1-5 ms gap come ``early_reflections`` discrete
    reflections within the first 50 ms, on top of a diffuse tail of Gaussian noise whose energy
    falls 60 dB in ``rt60`` seconds (where the response ends). Reflections and tail together are
    scaled to ``drr_db``, the direct-to-reverberant energy ratio (drawn from ``DRR_RANGE_DB`` when
    None).
    """
    if not (math.isfinite(rt60) and rt60 > 0):
        raise ValueError(f"rt60 must be a positive number of seconds, got {rt60}")
    if early_reflections < 0:
        raise ValueError(f"early_reflections must be >= 0, got {early_reflections}")
    if drr_db is None:
        drr_db = float(rng.uniform(*DRR_RANGE_DB))
    taps = max(2, int(round(rt60 * sample_rate)))
    t = np.arange(taps) / sample_rate
    envelope = 10.0 ** (-3.0 * t / rt60)  # amplitude: -60 dB of energy at t = rt60
    reverb = rng.standard_normal(taps) * envelope
    gap = min(taps - 1, max(1, int(rng.uniform(0.001, 0.005) * sample_rate)))
    reverb[:gap] = 0.0
    last = min(taps, max(gap + 1, int(0.05 * sample_rate)))
    for d in rng.integers(gap, last, size=early_reflections):
        reverb[d] += rng.choice((-1.0, 1.0)) * rng.uniform(2.0, 5.0) * envelope[d]  # stands out of the tail
    energy = float(np.sum(reverb**2))
    if energy > 0:
        reverb *= math.sqrt(10.0 ** (-drr_db / 10.0) / energy)  # direct path energy is 1
    reverb[0] = 1.0
    return reverb.astype(np.float32)


def reverberate(audio: Waveform, rir: Waveform, delay: Optional[int] = None) -> Waveform:
    """``audio`` convolved with ``rir`` (FFT), same length and level as the dry audio.

    The output is cut so that the direct path (tap ``delay``; default the strongest tap, tap 0 of a
    ``make_rir`` response) lands where the dry sound was: frame times, and so CTC targets, do not
    move. The reverberant tail past the end is dropped; the result is rescaled to the dry RMS.
    audio: (samples,), rir: (taps,).
    """
    audio, rir = _check_mono(audio), _check_mono(rir, "rir")
    d = int(np.argmax(np.abs(rir))) if delay is None else int(delay)
    if not 0 <= d < len(rir):
        raise ValueError(f"delay must index the rir (0..{len(rir) - 1}), got {d}")
    n = len(audio) + len(rir) - 1
    nfft = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, nfft) * np.fft.rfft(rir, nfft), nfft)[d : d + len(audio)]
    dry_rms, wet_rms = _rms(audio), _rms(wet)
    if wet_rms > 0:
        wet *= dry_rms / wet_rms
    return wet.astype(np.float32)


# ---------------------------------------------------------------- telephone channel
def mu_law(audio: Waveform, bits: int = 8) -> Waveform:
    """``audio`` through a mu-law codec (G.711's companding at ``bits``; 2**bits levels),
    compressed, quantized and expanded again. Samples beyond full scale are clipped, as a codec does."""
    levels = 2**bits
    mu = levels - 1
    x = np.clip(audio.astype(np.float64), -1.0, 1.0)
    c = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)  # in [-1, 1]
    c = np.round((c + 1.0) / 2.0 * mu) / mu * 2.0 - 1.0  # one of 2**bits codes
    return (np.sign(c) * np.expm1(np.abs(c) * math.log1p(mu)) / mu).astype(np.float32)


def band_pass(audio: Waveform, sample_rate: int, low_hz: float, high_hz: float, order: int = 4) -> Waveform:
    """Zero-phase band-pass with Butterworth magnitude edges (``order`` per edge) at ``low_hz`` and
    ``high_hz``, applied in the frequency domain (with room for the response to die out)."""
    if not 0.0 < low_hz < high_hz < sample_rate / 2:
        raise ValueError(f"need 0 < low_hz < high_hz < {sample_rate / 2:g} Hz, got {low_hz:g} and {high_hz:g}")
    x = _check_mono(audio).astype(np.float64)
    nfft = 1 << (len(x) + sample_rate // 10 - 1).bit_length()
    f = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    with np.errstate(divide="ignore"):
        gain = 1.0 / np.sqrt((1.0 + (low_hz / f) ** (2 * order)) * (1.0 + (f / high_hz) ** (2 * order)))
    return np.fft.irfft(np.fft.rfft(x, nfft) * gain, nfft)[: len(x)].astype(np.float32)


def telephone(audio: Waveform, sample_rate: int, low_hz: float = 300.0, high_hz: float = 3400.0) -> Waveform:
    """``audio`` as a narrow-band phone call carries it: the voice band ``low_hz``..``high_hz``,
    8 kHz sampling, 8-bit mu-law, then back to ``sample_rate`` (same length)."""
    if sample_rate < TELEPHONE_RATE:
        raise ValueError(f"a telephone channel needs audio at >= {TELEPHONE_RATE} Hz, got {sample_rate}")
    narrow = resample(band_pass(audio, sample_rate, low_hz, high_hz), sample_rate, TELEPHONE_RATE)
    wide = resample(mu_law(narrow), TELEPHONE_RATE, sample_rate)
    n = len(audio)
    return wide[:n] if len(wide) >= n else np.pad(wide, (0, n - len(wide)))


# ---------------------------------------------------------------- per utterance
def pad_with_room_tone(audio: Waveform, lead: int, trail: int, level_dbfs: float, color: str,
                       rng: np.random.Generator) -> Waveform:
    """``audio`` with ``lead`` samples before it and ``trail`` after it of ``color`` noise at
    ``level_dbfs`` RMS: the pause and room tone around a word that a trimmed clip lacks."""
    audio = _check_mono(audio)
    if lead < 0 or trail < 0:
        raise ValueError(f"padding must be >= 0 samples, got {lead} and {trail}")
    if lead + trail == 0:
        return audio.astype(np.float32, copy=True)
    tone = colored_noise(lead + trail, color, rng) * np.float32(10.0 ** (level_dbfs / 20.0))
    return np.concatenate([tone[:lead], audio.astype(np.float32, copy=False), tone[lead:]])


class WaveformAugment:
    """Room-tone padding, reverberation, additive noise, then a telephone channel, as
    ``AugmentConfig`` asks; training data only.

    ``draw(rng)`` makes one utterance's choices from the batch's generator (seeded by seed, epoch
    and batch index) and returns None for a clean utterance, else the function to apply to its
    (speed-perturbed) waveform. Nothing is drawn for an augmentation whose probability is 0, so
    runs without it see exactly the batches they saw before it existed.
    """

    def __init__(self, cfg: AugmentConfig, sample_rate: int) -> None:
        self.cfg, self.sample_rate = cfg, sample_rate
        self.noise = NoiseBank(cfg.noise_dir, sample_rate) if cfg.noise_prob > 0 and cfg.noise_dir else None

    def draw(self, rng: random.Random) -> Optional[Callable[[Waveform], Waveform]]:
        noisy = self.cfg.noise_prob > 0 and rng.random() < self.cfg.noise_prob
        reverb = self.cfg.reverb_prob > 0 and rng.random() < self.cfg.reverb_prob
        pad = self.cfg.pad_prob > 0 and rng.random() < self.cfg.pad_prob
        phone = self.cfg.telephone_prob > 0 and rng.random() < self.cfg.telephone_prob
        if not (noisy or reverb or pad or phone):
            return None
        return functools.partial(self.apply, seed=rng.getrandbits(64), noise=noisy, reverb=reverb, pad=pad, phone=phone)

    def apply(self, audio: Waveform, seed: int, noise: bool = True, reverb: bool = True, pad: bool = False,
              phone: bool = False) -> Waveform:
        """(samples,) -> (samples,) float32; every draw comes from ``seed``."""
        g = np.random.default_rng(seed)
        if pad:
            lead, trail = (int(g.uniform(*self.cfg.pad_seconds) * self.sample_rate) for _ in range(2))
            color = list(NOISE_COLORS)[int(g.integers(len(NOISE_COLORS)))]
            audio = pad_with_room_tone(audio, lead, trail, float(g.uniform(*self.cfg.pad_level_dbfs)), color, g)
        if reverb:
            audio = reverberate(audio, make_rir(float(g.uniform(*self.cfg.reverb_rt60)), self.sample_rate, g))
        if noise:
            snr = float(g.uniform(*self.cfg.noise_snr_db))
            if self.noise is not None:
                n = self.noise.sample(len(audio), g)
            else:
                n = colored_noise(len(audio), list(NOISE_COLORS)[int(g.integers(len(NOISE_COLORS)))], g)
            audio = add_noise(audio, n, snr)
        if phone:
            audio = telephone(audio, self.sample_rate, float(g.uniform(*TELEPHONE_LOW_HZ)), float(g.uniform(*TELEPHONE_HIGH_HZ)))
        return audio
