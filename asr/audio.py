"""Audio input: decode any file soundfile can read, downmix to mono, resample to the model rate.

Everything returned here is float32 in [-1, 1], shape (samples,), at ``sample_rate``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
PathLike = Union[str, os.PathLike]


class AudioError(ValueError):
    """A file could not be turned into audio; the message names the file and the problem."""


def _check_path(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, expected an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: file is empty (0 bytes)")
    return p


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> (samples,) float32, channels averaged."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    if audio.ndim != 2:
        raise ValueError(f"expected audio of shape (samples,) or (samples, channels), got {audio.shape}")
    return audio.mean(axis=1, dtype=np.float32)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality). audio: (samples,) float32."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def prepare_array(audio: np.ndarray, sample_rate: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """An in-memory signal -> mono float32 at ``target_sr``. Integer PCM is scaled to [-1, 1]."""
    audio = np.asarray(audio)
    if audio.size == 0:
        raise ValueError("audio is empty (0 samples)")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    if audio.ndim == 2 and audio.shape[0] < audio.shape[1] and audio.shape[0] <= 8:
        audio = audio.T  # (channels, samples) -> (samples, channels)
    return resample(to_mono(audio.astype(np.float32, copy=False)), int(sample_rate), target_sr)


def audio_info(path: PathLike) -> tuple[int, int, int]:
    """(sample_rate, frames, channels) without decoding the whole file."""
    p = _check_path(path)
    try:
        info = sf.info(str(p))
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError variants
        raise AudioError(f"{p}: cannot read audio ({e})") from e
    return info.samplerate, info.frames, info.channels


def audio_duration(path: PathLike) -> float:
    """Duration in seconds. Falls back to decoding where the header has no length (some Ogg files)."""
    sr, frames, _ = audio_info(path)
    if frames <= 0 or frames >= 2**62:
        frames = len(_read(Path(path))[0])
    return frames / sr


def _read(p: Path, offset: float = 0.0, duration: Optional[float] = None) -> tuple[np.ndarray, int]:
    try:
        if not offset and duration is None:
            audio, sr = sf.read(str(p), dtype="float32", always_2d=True)
        else:  # seek, so a segment of a long recording costs only its own length
            with sf.SoundFile(str(p)) as f:
                sr, start = f.samplerate, int(round(offset * f.samplerate))
                if start >= f.frames > 0:
                    raise AudioError(f"{p}: offset {offset:.3f} s is past the end ({f.frames / sr:.3f} s)")
                f.seek(start)
                audio = f.read(-1 if duration is None else int(round(duration * sr)), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:
        raise AudioError(f"{p}: cannot decode audio ({e})") from e
    return audio, sr


def load_audio(path: PathLike, sample_rate: int = SAMPLE_RATE, offset: float = 0.0,
               duration: Optional[float] = None) -> np.ndarray:
    """Decode a file -> (samples,) float32 mono at ``sample_rate``.

    With ``offset``/``duration`` (seconds) only that part is decoded (a segment of a long
    recording; see ``asr.data.manifest.segment``); a segment running past the end is cut short.
    """
    if offset < 0 or (duration is not None and duration <= 0):
        raise ValueError(f"expected offset >= 0 and duration > 0 seconds, got offset={offset}, duration={duration}")
    p = _check_path(path)
    audio, sr = _read(p, offset, duration)
    if audio.shape[0] == 0:
        raise AudioError(f"{p}: contains no audio samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"{p}: contains NaN or infinite samples")
    return resample(to_mono(audio), sr, sample_rate)


def stream_audio(path: PathLike, sample_rate: int = SAMPLE_RATE, block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Decode a file in blocks, for audio too long to hold at once.

    Yields (samples,) float32 mono at ``sample_rate``; concatenated, the blocks equal
    ``load_audio(path)`` up to the resampler's streaming rounding.
    """
    p = _check_path(path)
    try:
        f = sf.SoundFile(str(p))
    except Exception as e:
        raise AudioError(f"{p}: cannot decode audio ({e})") from e
    with f:
        src_sr = f.samplerate
        rs = None if src_sr == sample_rate else soxr.ResampleStream(src_sr, sample_rate, 1, dtype="float32", quality="HQ")
        block = max(1, int(block_seconds * src_sr))
        any_samples = False
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as e:
                raise AudioError(f"{p}: decoding failed part-way ({e})") from e
            last = len(data) < block
            if len(data):
                any_samples = True
            mono = to_mono(data) if len(data) else np.zeros(0, np.float32)
            out = mono if rs is None else rs.resample_chunk(mono, last=last)
            if len(out):
                yield out.astype(np.float32, copy=False)
            if last:
                break
        if not any_samples:
            raise AudioError(f"{p}: contains no audio samples")
