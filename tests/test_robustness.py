"""The bundled models on audio nobody here chose: telephone, music, silences, clipping, whispers.

Speech comes from the committed examples/ clips (espeak-ng); each test degrades it the way the
real world does and transcribes the result as a file, with both bundled models (the offline one
through `Recognizer.transcribe`, the streaming one through `StreamingRecognizer` with
endpointing, as `asr live`). "Sensible" = character error rate against the spoken text at most
MAX_CER (the models spell; a word with one wrong letter is still recognisably that word);
"no garbage" = never more words than were spoken plus EXTRA_WORDS, and next to nothing on audio
without speech.

Known failures are marked ``xfail(strict=True)``: they are the model card's "not good at" list,
and a model that fixes one makes the suite fail until the mark is removed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from asr.audio import load_audio
from asr.config import DecodeConfig
from asr.data.augment import pad_with_room_tone
from asr.data.nonspeech import synthesize_nonspeech
from asr.model import AcousticModel
from asr.pretrained import default_model
from asr.streaming import StreamingRecognizer
from asr.train.metrics import error_rates
from asr.transcribe import Recognizer, load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SR = 16000
MAX_CER = 50.0
EXTRA_WORDS = 2
CLIPS = {"digits": "enter five three one two", "date": "october twenty first nineteen seventy two"}


@pytest.fixture(scope="module")
def offline():
    return load_model(default_model("offline"))


@pytest.fixture(scope="module")
def streaming():
    return AcousticModel.load(default_model("streaming"))


def transcribe(kind: str, path: Path, offline, streaming, min_confidence: float = 0.0) -> str:
    decode = DecodeConfig(min_confidence=min_confidence)
    if kind == "offline":
        if min_confidence:
            offline = Recognizer(offline.model, decode=decode)  # the same weights, gated
        return offline.transcribe(str(path)).text
    rec = StreamingRecognizer(streaming, decode=decode)
    audio = load_audio(path, SR)
    finals = []
    for i in range(0, len(audio), 1600):  # 100 ms blocks, as a microphone delivers them
        finals += [e.text for e in rec.accept(audio[i : i + 1600]) if e.kind == "final"]
    finals += [e.text for e in rec.finish() if e.kind == "final"]
    return " ".join(t for t in finals if t)


def speech(name: str) -> np.ndarray:
    return load_audio(EXAMPLES / f"{name}.flac", SR)


def write(path: Path, audio: np.ndarray, rate: int = SR) -> Path:
    """16-bit PCM, as a recorder would store it."""
    sf.write(str(path), audio, rate, subtype="PCM_16")
    return path


def overdriven(x: np.ndarray, peak: float) -> np.ndarray:
    """``x`` scaled so its peak is ``peak`` times full scale, then clipped to full scale."""
    return np.clip(x * peak / np.abs(x).max(), -1, 1)


def assert_sensible(hyp: str, ref: str, allow_empty: bool = False) -> None:
    assert_no_flood(hyp, ref)
    if allow_empty and not hyp.strip():
        return
    cer = error_rates([ref], [hyp])[1]
    assert cer <= MAX_CER, f"CER {cer:.0f}%: {hyp!r} for {ref!r}"


def assert_no_flood(hyp: str, ref: str) -> None:
    assert len(hyp.split()) <= len(ref.split()) + EXTRA_WORDS, f"too many words: {hyp!r} for {ref!r}"


def music(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """A stereo pop-like backing: chords of harmonic tones, a bass line and a kick drum."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros((len(t), 2))
    beat = 0.5
    for k in range(int(seconds / (4 * beat)) + 1):  # a chord per bar
        root = 220 * 2 ** (rng.choice([0, 3, 5, 7, 8, 10]) / 12)
        on = (t >= 4 * beat * k) & (t < 4 * beat * (k + 1))
        for step, pan in ((1.0, 0.3), (2 ** (4 / 12), 0.7), (2 ** (7 / 12), 0.5), (0.5, 0.5)):
            f = root * step
            tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 6))
            env = np.exp(-((t - 4 * beat * k) % (4 * beat)) * 1.5)
            out[:, 0] += on * tone * env * (1 - pan)
            out[:, 1] += on * tone * env * pan
    for k in range(int(seconds / beat)):  # kick: a decaying 55 Hz sine with a click
        start = int(k * beat * sr)
        n = min(int(0.25 * sr), len(t) - start)
        tt = np.arange(n) / sr
        kick = np.sin(2 * np.pi * 55 * tt) * np.exp(-tt * 18) * 2
        out[start : start + n] += kick[:, None]
    return out / np.abs(out).max()


def mix_at_snr(speech_44k: np.ndarray, back: np.ndarray, snr_db: float) -> np.ndarray:
    p_s = np.mean(speech_44k ** 2)
    p_m = np.mean(back ** 2)
    back = back * np.sqrt(p_s / (p_m * 10 ** (snr_db / 10)))
    mixed = back + speech_44k[:, None] * np.array([0.9, 1.0])
    return mixed / max(1.0, np.abs(mixed).max() / 0.95)


KINDS = ["offline", "streaming"]
# Measured on the shipped models (see the README's model card): the longer "date" clip is lost
# through a telephone band and under music at 10 dB SNR (both models; the streaming model of the
# old 3-epoch stage 3 kept it under music, the current one reads 63% of its letters wrong); the
# short digit string survives both.
KNOWN_FAILURES = {("telephone", "date", "offline"), ("telephone", "date", "streaming"),
                  ("music", "date", "offline"), ("music", "date", "streaming")}


def cases(condition: str) -> list:
    out = []
    for clip in CLIPS:
        for kind in KINDS:
            marks = [pytest.mark.xfail(strict=True, reason="known weakness of the bundled models (README model card)")] \
                if (condition, clip, kind) in KNOWN_FAILURES else []
            out.append(pytest.param(kind, clip, marks=marks, id=f"{clip}-{kind}"))
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clip", list(CLIPS))
def test_clean_examples_are_recognised(kind, clip, offline, streaming):
    """The baseline the degraded versions are compared against."""
    assert_sensible(transcribe(kind, EXAMPLES / f"{clip}.flac", offline, streaming), CLIPS[clip])


@pytest.mark.parametrize("kind,clip", cases("telephone"))
def test_telephone_8khz_mulaw(kind, clip, tmp_path, offline, streaming):
    x = speech(clip)
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    spec[(freqs < 300) | (freqs > 3400)] = 0  # the telephone band
    narrow = soxr.resample(np.fft.irfft(spec, len(x)).astype(np.float32), SR, 8000)
    path = tmp_path / "phone.wav"
    sf.write(str(path), narrow, 8000, subtype="ULAW")  # G.711 mu-law, as a phone line carries it
    assert sf.info(str(path)).samplerate == 8000
    assert_sensible(transcribe(kind, path, offline, streaming), CLIPS[clip])


@pytest.mark.parametrize("kind,clip", cases("music"))
def test_music_with_speech_44k_stereo(kind, clip, tmp_path, offline, streaming):
    x = soxr.resample(speech(clip), SR, 44100)
    path = tmp_path / "song.wav"
    sf.write(str(path), mix_at_snr(x, music(len(x) / 44100, 44100), snr_db=10.0).astype(np.float32), 44100, subtype="PCM_16")
    assert sf.info(str(path)).channels == 2
    assert_sensible(transcribe(kind, path, offline, streaming), CLIPS[clip])


@pytest.mark.parametrize("kind", [
    "offline",  # trained with non-speech clips (stage 5): it writes next to nothing
    pytest.param("streaming", marks=pytest.mark.xfail(
        strict=True, reason="known weakness: the streaming model spells out music without speech (README model card)"))])
def test_music_alone_gives_next_to_nothing(kind, tmp_path, offline, streaming):
    path = tmp_path / "music.wav"
    sf.write(str(path), (0.8 * music(10.0, 44100, seed=1)).astype(np.float32), 44100, subtype="PCM_16")
    hyp = transcribe(kind, path, offline, streaming)
    assert len(hyp.split()) <= 2, hyp


@pytest.mark.parametrize("kind", KINDS)
def test_confidence_gate_quiets_non_speech_and_keeps_speech(kind, tmp_path, offline, streaming):
    """--min-confidence 0.6 (benchmarks/confidence_gate.py: AN4 + FSDD dev WER unchanged for both
    models): far fewer words on the held-out non-speech clips of asr.data.nonspeech (seed 1), while
    the examples, also under music, still come through. (It does not rescue the streaming model on
    this file's kick drums, which it hears as a confident "four": see the xfail above.) A model
    already near-silent there without the gate (the stage-6 streaming model: 1 word on the 12
    clips) has nothing left to halve: the gate must then not add any."""
    clips = synthesize_nonspeech(tmp_path / "ns", 12, seed=1, name="heldout").parent / "wav"
    words = [sum(len(transcribe(kind, p, offline, streaming, min_confidence=g).split()) for p in sorted(clips.glob("*.wav")))
             for g in (0.0, 0.6)]
    assert words[1] <= max(words[0] // 2, 1) and words[1] <= words[0], words
    for clip in CLIPS:
        assert_sensible(transcribe(kind, EXAMPLES / f"{clip}.flac", offline, streaming, min_confidence=0.6), CLIPS[clip])
    x = soxr.resample(speech("digits"), SR, 44100)
    song = tmp_path / "song.wav"
    sf.write(str(song), mix_at_snr(x, music(len(x) / 44100, 44100), snr_db=10.0).astype(np.float32), 44100, subtype="PCM_16")
    assert_sensible(transcribe(kind, song, offline, streaming, min_confidence=0.6), CLIPS["digits"])
    assert transcribe(kind, EXAMPLES / "digits.flac", offline, streaming, min_confidence=1.0) == ""  # nothing is that sure


@pytest.mark.parametrize("kind", KINDS)
def test_long_silences_between_speech(kind, tmp_path, offline, streaming):
    quiet = lambda s: np.random.default_rng(0).normal(0, 3e-4, int(s * SR)).astype(np.float32)  # noqa: E731
    audio = np.concatenate([quiet(8), speech("digits"), quiet(20), speech("date"), quiet(8)])
    path = tmp_path / "gaps.flac"
    sf.write(str(path), audio, SR)
    assert_sensible(transcribe(kind, path, offline, streaming), CLIPS["digits"] + " " + CLIPS["date"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clip", list(CLIPS))
def test_clipped_speech(kind, clip, tmp_path, offline, streaming):
    """A recording made too hot: peaks at twice full scale, about 1 % of the samples clipped."""
    y = overdriven(speech(clip), 2.0)
    assert 0.003 < np.mean(np.abs(y) >= 0.999) < 0.03
    assert_sensible(transcribe(kind, write(tmp_path / "clipped.wav", y), offline, streaming), CLIPS[clip])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clip", list(CLIPS))
def test_heavily_clipped_speech_gives_no_flood(kind, clip, tmp_path, offline, streaming):
    """Peaks at 8x full scale: the models lose the words (README: not good at), but say little."""
    path = write(tmp_path / "clipped.wav", overdriven(speech(clip), 8.0))
    assert_no_flood(transcribe(kind, path, offline, streaming), CLIPS[clip])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clip", list(CLIPS))
def test_near_silent_speech(kind, clip, tmp_path, offline, streaming):
    x = speech(clip)
    path = write(tmp_path / "faint.wav", x * (0.003 / np.abs(x).max()))  # peaks at -50 dBFS
    assert_sensible(transcribe(kind, path, offline, streaming), CLIPS[clip], allow_empty=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signal", ["digital_silence", "faint_hiss", "dc_offset"])
def test_no_speech_gives_next_to_nothing(kind, signal, tmp_path, offline, streaming):
    n = 6 * SR
    audio = {"digital_silence": np.zeros(n), "faint_hiss": np.random.default_rng(2).normal(0, 1e-4, n),
             "dc_offset": np.full(n, 0.2)}[signal].astype(np.float32)
    path = tmp_path / f"{signal}.wav"
    sf.write(str(path), audio, SR, subtype="PCM_16")
    hyp = transcribe(kind, path, offline, streaming)
    assert len(hyp.split()) <= 1, hyp


FSDD = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "fsdd" / "recordings"
DIGITS = "zero one two three four five six seven eight nine".split()


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"needs the Free Spoken Digit Dataset at {FSDD} (development corpora)")
@pytest.mark.parametrize("kind", KINDS)
def test_a_pause_before_a_spoken_digit(kind, tmp_path, offline, streaming):
    """Real recorded digits (FSDD, index 5 of each digit and speaker: the default models' dev
    clips, never trained on) with half a second of room tone (pink noise, -60 dBFS) before and
    after, as a microphone or a recording has: the bundled models must still hear the digit. FSDD
    trims its clips to the word, and models trained on them only (before stage 4 of
    scripts/train_default_en.sh) learned that a word starts at the first frame: with the pause the
    streaming one got 29% of these dev clips wrong and the offline one 10%."""
    files = sorted(FSDD.glob("?_*_5.wav"))
    assert len(files) >= 50, f"expected 60 FSDD clips with index 5 in {FSDD}"
    wrong = []
    for k, f in enumerate(files):
        padded = pad_with_room_tone(load_audio(f, SR), SR // 2, SR // 2, -60.0, "pink", np.random.default_rng(k))
        hyp = transcribe(kind, write(tmp_path / f.name, padded), offline, streaming)
        if hyp.split() != [DIGITS[int(f.name[0])]]:
            wrong.append((f.name, hyp))
    assert len(wrong) <= len(files) // 20, wrong  # at most 5% wrong
