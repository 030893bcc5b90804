"""Audio input: formats decode, rates and channels are normalised, bad files fail with their name."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import (SAMPLE_RATE, AudioError, audio_duration, audio_info, load_audio, prepare_array, resample,
                       stream_audio)


def sine(seconds: float, sr: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """(samples,) or (samples, channels) float32."""
    x = (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def peak_hz(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)])


FORMATS = {
    "wav": {},
    "flac": {},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "sph": {"format": "NIST", "subtype": "PCM_16"},
    "mp3": {"format": "MP3"},
}


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_formats_decode(tmp_path, ext):
    if FORMATS[ext].get("format") == "MP3" and "MP3" not in sf.available_formats():
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) has no MP3 support")
    path = tmp_path / f"tone.{ext}"
    sf.write(str(path), sine(1.0, SAMPLE_RATE), SAMPLE_RATE, **FORMATS[ext])
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - SAMPLE_RATE) <= 0.05 * SAMPLE_RATE  # lossy codecs may pad a little
    assert np.abs(x[2000:-2000]).max() == pytest.approx(0.5, abs=0.05)
    if ext in ("wav", "flac", "sph"):  # lossless; lossy codecs ring past 1.0 where the sine stops dead
        np.testing.assert_allclose(x, sine(1.0, SAMPLE_RATE), atol=1e-4)
    assert peak_hz(x) == pytest.approx(440, abs=3)
    assert audio_duration(path) == pytest.approx(len(x) / SAMPLE_RATE, abs=0.05)


@pytest.mark.parametrize("sr, channels", [(8000, 1), (44100, 2), (48000, 2), (22050, 1)])
def test_resampled_to_16k_and_downmixed(tmp_path, sr, channels):
    path = tmp_path / "in.wav"
    sf.write(str(path), sine(1.5, sr, channels=channels), sr, subtype="FLOAT")
    x = load_audio(path)
    assert x.ndim == 1 and abs(len(x) - int(1.5 * SAMPLE_RATE)) <= 2
    assert peak_hz(x) == pytest.approx(440, abs=2)
    assert np.abs(x[2000:-2000]).max() == pytest.approx(0.5, abs=0.02)  # identical channels average to one
    assert audio_info(path) == (sr, int(1.5 * sr), channels)


def test_opposite_channels_cancel(tmp_path):
    left = sine(0.5, SAMPLE_RATE)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, -left], axis=1), SAMPLE_RATE, subtype="FLOAT")
    assert np.abs(load_audio(path)).max() < 1e-6


def test_target_rate_argument(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), sine(1.0, 44100), 44100)
    assert abs(len(load_audio(path, sample_rate=8000)) - 8000) <= 1


def bad_files(tmp: Path) -> dict[str, Path]:
    empty = tmp / "empty_file.wav"
    empty.write_bytes(b"")
    garbage = tmp / "garbage_file.wav"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    header_only = tmp / "header_only.wav"
    sf.write(str(header_only), np.zeros(0, np.float32), SAMPLE_RATE)
    return {"missing": tmp / "missing_file.wav", "empty": empty, "corrupt": garbage, "header-only": header_only}


@pytest.mark.parametrize("kind", ["missing", "empty", "corrupt", "header-only"])
def test_bad_files_raise_audio_error_naming_the_file(tmp_path, kind):
    path = bad_files(tmp_path)[kind]
    with pytest.raises(AudioError, match=path.name):
        load_audio(path)
    with pytest.raises(AudioError, match=path.name):
        list(stream_audio(path))
    if kind != "header-only":  # a valid header reads fine; it just says 0 frames
        with pytest.raises(AudioError, match=path.name):
            audio_duration(path)
    assert issubclass(AudioError, ValueError)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


@pytest.mark.parametrize("sr, channels", [(SAMPLE_RATE, 1), (44100, 2), (8000, 1)])
def test_stream_matches_load(tmp_path, sr, channels):
    path = tmp_path / "long.flac"
    rng = np.random.default_rng(0)
    x = sine(3.3, sr, channels=channels) + 0.05 * rng.standard_normal((int(3.3 * sr), channels)).squeeze()
    sf.write(str(path), np.clip(x, -1, 1), sr)
    whole = load_audio(path)
    blocks = list(stream_audio(path, block_seconds=0.4))
    assert len(blocks) > 1 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    streamed = np.concatenate(blocks)
    assert abs(len(streamed) - len(whole)) <= 4
    n = min(len(streamed), len(whole))
    assert np.abs(streamed[:n] - whole[:n]).max() < 1e-2
    if sr == SAMPLE_RATE:
        np.testing.assert_array_equal(streamed, whole)


def test_prepare_array_int16_and_channels_first():
    x = sine(0.5, 8000, channels=2)
    pcm = (x * 32767).astype(np.int16)
    a = prepare_array(pcm, 8000)
    assert a.dtype == np.float32 and a.ndim == 1 and abs(len(a) - 8000) <= 1
    assert np.abs(a).max() <= 1.0 and np.abs(a).max() == pytest.approx(0.5, abs=0.02)
    b = prepare_array(pcm.T, 8000)  # (channels, samples)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert peak_hz(a) == pytest.approx(440, abs=3)
    np.testing.assert_allclose(prepare_array(x[:, 0].astype(np.float64), 16000), x[:, 0], atol=1e-6)


def test_prepare_array_and_resample_reject_bad_input():
    with pytest.raises(ValueError, match="empty"):
        prepare_array(np.zeros(0), 16000)
    with pytest.raises(ValueError, match="-8000"):
        resample(np.zeros(10, np.float32), -8000, 16000)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        prepare_array(np.zeros((2, 3, 4)), 16000)


# ------------------------------------------------------------------ ffmpeg: formats libsndfile cannot read
needs_ffmpeg = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")),
                                  reason="ffmpeg not installed (apt-get install ffmpeg)")


def _encode(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst


@pytest.fixture
def noisy_wav(tmp_path) -> Path:
    """3.3 s of a tone in noise, stereo at 44.1 kHz, 16-bit (what an m4a recording decodes to)."""
    rng = np.random.default_rng(1)
    x = sine(3.3, 44100, channels=2) + 0.05 * rng.standard_normal((int(3.3 * 44100), 2))
    path = tmp_path / "ref.wav"
    sf.write(str(path), np.clip(x, -1, 1), 44100, subtype="PCM_16")
    return path


@needs_ffmpeg
def test_m4a_reads_through_ffmpeg_exactly_like_the_wav(noisy_wav, tmp_path):
    """Apple Lossless in an .m4a (which libsndfile cannot open) decodes to the very samples of
    the WAV it was made from, through the same downmix and resampler; so do segments and blocks."""
    m4a = _encode(noisy_wav, tmp_path / "rec.m4a", "-c:a", "alac")
    with pytest.raises(Exception):
        sf.info(str(m4a))
    ref = load_audio(noisy_wav)
    got = load_audio(m4a)
    np.testing.assert_array_equal(got, ref)
    sr, frames, channels = audio_info(m4a)
    assert (sr, channels) == (44100, 2) and abs(frames - int(3.3 * 44100)) <= 441
    assert audio_duration(m4a) == pytest.approx(3.3, abs=0.01)
    part = load_audio(m4a, offset=1.0, duration=1.5)
    np.testing.assert_allclose(part, load_audio(noisy_wav, offset=1.0, duration=1.5), atol=1e-3)
    streamed = np.concatenate(list(stream_audio(m4a, block_seconds=0.4)))
    assert abs(len(streamed) - len(ref)) <= 2
    n = min(len(streamed), len(ref))
    assert np.abs(streamed[:n] - ref[:n]).max() < 1e-3  # streaming resampler rounding only
    with pytest.raises(AudioError, match="past the end"):
        load_audio(m4a, offset=10.0)


@needs_ffmpeg
def test_lossy_aac_transcribes_like_the_wav(noisy_wav, tmp_path):
    aac = _encode(noisy_wav, tmp_path / "rec.m4a", "-c:a", "aac", "-b:a", "128k")
    got, ref = load_audio(aac), load_audio(noisy_wav)
    assert abs(len(got) - len(ref)) <= 0.05 * SAMPLE_RATE  # AAC pads the start by a frame or so
    assert peak_hz(got) == pytest.approx(440, abs=5)


@needs_ffmpeg
def test_ffmpeg_cannot_read_it_either(tmp_path):
    bad = tmp_path / "broken.m4a"
    bad.write_bytes(b"\x00\x00\x00\x20ftypM4A " + np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for call in (load_audio, audio_info, lambda p: list(stream_audio(p))):
        with pytest.raises(AudioError, match=r"broken\.m4a.*ffmpeg"):
            call(bad)


def test_without_ffmpeg_the_error_says_how_to_get_it(noisy_wav, tmp_path, monkeypatch):
    m4a = tmp_path / "rec.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(2000))  # not something libsndfile opens
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    for call in (load_audio, audio_info, lambda p: list(stream_audio(p))):
        with pytest.raises(AudioError, match=r"rec\.m4a.*apt-get install ffmpeg"):
            call(m4a)
