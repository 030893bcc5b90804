"""Audio input: decode a file, downmix to mono, resample to the model rate.

libsndfile (through soundfile) reads WAV, FLAC, MP3, Ogg Vorbis/Opus and more; anything else
(m4a/AAC, mp4, webm, wma, ...) goes through ffmpeg where it is installed. Everything returned here
is float32 in [-1, 1], shape (samples,), at ``sample_rate``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
PathLike = Union[str, os.PathLike]
FFMPEG_HINT = "formats that libsndfile cannot read (m4a/AAC, mp4, webm, wma, ...) need ffmpeg: apt-get install ffmpeg"


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
        return _ffprobe(p, e)
    return info.samplerate, info.frames, info.channels


def audio_duration(path: PathLike) -> float:
    """Duration in seconds. Falls back to decoding where the header has no length (some Ogg files)."""
    sr, frames, _ = audio_info(path)
    if frames <= 0 or frames >= 2**62:
        frames = len(_read(Path(path))[0])
    return frames / sr


# ------------------------------------------------------------------ ffmpeg, for what libsndfile cannot read
def _ffprobe(p: Path, sf_error: Exception) -> tuple[int, int, int]:
    """(sample_rate, frames (0 if unknown), channels) of the file's first audio stream, from
    ffprobe; ``sf_error`` is why soundfile could not read it (kept in the message)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise AudioError(f"{p}: cannot decode audio ({sf_error}); {FFMPEG_HINT}")
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels:format=duration", "-of", "json", str(p)]
    res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    info = json.loads(res.stdout or "{}") if res.returncode == 0 else {}
    streams = info.get("streams") or []
    if not streams:
        why = _last_line(res.stderr) or "no audio stream"
        raise AudioError(f"{p}: cannot decode audio (soundfile: {sf_error}; ffmpeg: {why})")
    sr, channels = int(streams[0].get("sample_rate") or 0), int(streams[0].get("channels") or 0)
    if sr <= 0 or channels <= 0:
        raise AudioError(f"{p}: cannot decode audio (ffmpeg reports sample rate {sr}, {channels} channels)")
    try:
        seconds = float(info.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        seconds = 0.0
    return sr, max(0, int(round(seconds * sr))), channels


def _last_line(text: str) -> str:
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    return lines[-1] if lines else ""


def _ffmpeg_command(p: Path, sr: int, channels: int, offset: float = 0.0, duration: Optional[float] = None) -> list[str]:
    """ffmpeg writing the first audio stream to stdout as float32 at its own rate and channels
    (resampling and downmixing stay ours, the same for every format)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{p}: ffprobe is installed but ffmpeg is not; {FFMPEG_HINT}")
    cmd = [ffmpeg, "-nostdin", "-v", "error"]
    if offset:
        cmd += ["-ss", f"{offset:.6f}"]
    cmd += ["-i", str(p), "-map", "0:a:0"]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    return cmd + ["-f", "f32le", "-acodec", "pcm_f32le", "-ar", str(sr), "-ac", str(channels), "-"]


def _ffmpeg_read(p: Path, sf_error: Exception, offset: float = 0.0, duration: Optional[float] = None) -> tuple[np.ndarray, int]:
    sr, frames, channels = _ffprobe(p, sf_error)
    if frames and offset * sr >= frames:
        raise AudioError(f"{p}: offset {offset:.3f} s is past the end ({frames / sr:.3f} s)")
    res = subprocess.run(_ffmpeg_command(p, sr, channels, offset, duration), capture_output=True, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise AudioError(f"{p}: cannot decode audio (soundfile: {sf_error}; ffmpeg: {_last_line(res.stderr.decode(errors='replace'))})")
    audio = np.frombuffer(res.stdout, dtype="<f4")
    return audio[: len(audio) // channels * channels].reshape(-1, channels).astype(np.float32), sr


def _ffmpeg_blocks(p: Path, sr: int, channels: int, block: int) -> Iterator[np.ndarray]:
    """(block, channels) float32 arrays from ffmpeg's stdout; the last one is shorter."""
    # stderr to a file, not a pipe: a long run of decoding errors could fill a pipe and stall ffmpeg
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(_ffmpeg_command(p, sr, channels), stdout=subprocess.PIPE, stderr=errors,
                            stdin=subprocess.DEVNULL)
    try:
        while True:
            raw = proc.stdout.read(block * channels * 4)
            data = np.frombuffer(raw, dtype="<f4")
            yield data[: len(data) // channels * channels].reshape(-1, channels).astype(np.float32)
            if len(raw) < block * channels * 4:
                break
        if proc.wait() != 0:
            errors.seek(0)
            raise AudioError(f"{p}: decoding failed part-way (ffmpeg: {_last_line(errors.read().decode(errors='replace'))})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errors.close()


def _sf_blocks(p: Path, f: sf.SoundFile, block: int) -> Iterator[np.ndarray]:
    with f:
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as e:
                raise AudioError(f"{p}: decoding failed part-way ({e})") from e
            yield data
            if len(data) < block:
                break


def _read(p: Path, offset: float = 0.0, duration: Optional[float] = None) -> tuple[np.ndarray, int]:
    try:
        f = sf.SoundFile(str(p))
    except Exception as e:  # not a format libsndfile reads (or not audio): ffmpeg's turn
        return _ffmpeg_read(p, e, offset, duration)
    try:
        with f:
            sr = f.samplerate
            if offset or duration is not None:  # seek, so a segment of a long recording costs only its own length
                start = int(round(offset * sr))
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
        src_sr, _, channels = _ffprobe(p, e)
        blocks = _ffmpeg_blocks(p, src_sr, channels, max(1, int(block_seconds * src_sr)))
    else:
        src_sr = f.samplerate
        blocks = _sf_blocks(p, f, max(1, int(block_seconds * src_sr)))
    rs = None if src_sr == sample_rate else soxr.ResampleStream(src_sr, sample_rate, 1, dtype="float32", quality="HQ")
    block = max(1, int(block_seconds * src_sr))
    any_samples = False
    try:
        for data in blocks:
            last = len(data) < block
            if len(data):
                any_samples = True
            mono = to_mono(data) if len(data) else np.zeros(0, np.float32)
            out = mono if rs is None else rs.resample_chunk(mono, last=last)
            if len(out):
                yield out.astype(np.float32, copy=False)
    finally:
        blocks.close()
    if not any_samples:
        raise AudioError(f"{p}: contains no audio samples")
