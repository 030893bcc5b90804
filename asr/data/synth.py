"""A small synthetic spoken corpus made with espeak-ng, for the demo and end-to-end tests.

Sentences come from a tiny grammar over an AN4-like closed vocabulary (spelled letters, digit
words, numbers, a few commands), 1-6 words each. Each clip is spoken by one of ``SPEAKERS``
(an espeak-ng voice + variant) at a random speed, pitch, amplitude and word gap, padded with a
little silence and, usually, white noise at 20-40 dB SNR, then stored as 16 kHz mono 16-bit wav.

Splits: every speaker appears in every split, but no sentence of dev or test appears in train
(or in the other held-out split). So test measures generalisation to new word sequences, not to
new voices: with only a handful of synthetic voices a speaker-disjoint split would mostly
measure which voices happened to be held out.

Everything is deterministic given ``seed`` (espeak-ng itself is deterministic).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import soundfile as sf

from asr.audio import SAMPLE_RATE, load_audio
from asr.data.manifest import write_manifest
from asr.text import normalize_text

PathLike = Union[str, os.PathLike]

# espeak-ng voice "+" variant. All were checked to give distinct audio: note that "en-gb+f2"
# silently ignores its variant in espeak-ng 1.51 (hence "en+f2": "en" is the same British voice),
# and an unknown variant falls back to the plain voice without an error.
SPEAKERS: tuple[str, ...] = (
    "en-us", "en-us+f3", "en-us+m7", "en-us+f1", "en-us+klatt",
    "en", "en+m3", "en+f2", "en+klatt4",
    "en-gb-scotland", "en-gb-scotland+f4",
    "en-029", "en-029+m1",
    "en-gb-x-rp+f5", "en-us-nyc+m2", "en-gb-x-gbcwmd+m4",
)

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "go", "stop", "erase", "rubout", "enter", "repeat", "help", "start")
TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
            "tenth", "twelfth", "twentieth", "thirtieth")

# espeak-ng reads a lone "a" as the article (schwa) and "z" as "zed" in British voices; the
# corpus means the letter names, so these are given as phonemes. The transcript keeps "a", "z".
_LETTER_PHONEMES = {"a": "[['eI]]", "z": "[[z'i:]]"}

SPEED_RANGE = (130, 200)  # words per minute (espeak-ng -s)
PITCH_RANGE = (30, 70)  # 0-99 (espeak-ng -p)
AMPLITUDE_RANGE = (50, 110)  # espeak-ng -a, default 100 (peaks near 0.9 at 100)
PEAK_LIMIT = 0.95  # louder clips are scaled down rather than clipped
WORD_GAP_RANGE = (0, 8)  # espeak-ng -g, units of 10 ms at the default speed
PAD_RANGE = (0.05, 0.30)  # seconds of silence added before and after
SNR_RANGE_DB = (20.0, 40.0)
NOISE_PROB = 0.8  # fraction of clips that get white noise

_INSTALL_HINT = "espeak-ng not found: apt-get install espeak-ng"


def espeak_binary() -> str:
    """Path of the espeak-ng executable; RuntimeError with an install hint if there is none."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(_INSTALL_HINT)
    return exe


# ---------------------------------------------------------------------------------------------
# Sentences


def _letters(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(LETTERS) for _ in range(n)]


def _digits(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(DIGITS) for _ in range(n)]


def _number(rng: random.Random) -> list[str]:
    """"twenty five", "nineteen sixty", "three hundred", "one thousand", "seventeen"."""
    kind = rng.random()
    if kind < 0.35:
        return [rng.choice(TENS), rng.choice(DIGITS[2:])]
    if kind < 0.55:
        return [rng.choice(TEENS), rng.choice(TENS)]
    if kind < 0.75:
        return [rng.choice(DIGITS[2:]), rng.choice(("hundred", "thousand"))]
    return [rng.choice(TEENS + TENS)]


def random_sentence(rng: random.Random) -> str:
    """One AN4-like sentence of 1-6 words: "b a o z", "enter five three", "u m n y h six"."""
    kind = rng.random()
    if kind < 0.30:
        words = _letters(rng, rng.randint(1, 6))
    elif kind < 0.50:
        words = _digits(rng, rng.randint(1, 6))
    elif kind < 0.60:
        words = [rng.choice(COMMANDS)]
    elif kind < 0.70:
        tail = _letters(rng, rng.randint(1, 4)) if rng.random() < 0.5 else _digits(rng, rng.randint(1, 4))
        words = [rng.choice(("enter", "erase", "repeat", "rubout"))] + tail
    elif kind < 0.80:
        words = _number(rng)
    elif kind < 0.85:
        words = [rng.choice(MONTHS), rng.choice(ORDINALS)] + (_number(rng)[:1] if rng.random() < 0.3 else [])
    else:  # mixed, like AN4's spelled names and zip codes
        n = rng.randint(2, 6)
        words = _letters(rng, rng.randint(1, n - 1))
        words += _digits(rng, n - len(words))
    return " ".join(words[:6])


def spoken_form(text: str) -> str:
    """Transcript -> espeak-ng input in which single letters are said as letter names."""
    return " ".join(_LETTER_PHONEMES.get(w, w) for w in text.split())


def split_sentences(n_train: int, n_dev: int, n_test: int, seed: int) -> dict[str, list[str]]:
    """Sentences per split. Test and dev sentences are unique and never appear in another
    split; train may repeat its own sentences (as AN4 repeats "yes")."""
    for name, n in (("n_train", n_train), ("n_dev", n_dev), ("n_test", n_test)):
        if n < 0:
            raise ValueError(f"{name} must be >= 0, got {n}")
    rng = random.Random(f"sentences-{seed}")
    held: set[str] = set()
    out: dict[str, list[str]] = {}
    for split, n in (("test", n_test), ("dev", n_dev)):
        texts: list[str] = []
        tries = 0
        while len(texts) < n:
            tries += 1
            if tries > 1000 * (n + 10):
                raise ValueError(f"cannot draw {n} distinct {split} sentences from the grammar")
            t = random_sentence(rng)
            if t not in held:
                held.add(t)
                texts.append(t)
        out[split] = texts
    train: list[str] = []
    while len(train) < n_train:
        t = random_sentence(rng)
        if t not in held:
            train.append(t)
    out["train"] = train
    return {k: out[k] for k in ("train", "dev", "test")}


# ---------------------------------------------------------------------------------------------
# Synthesis


def _espeak(text: str, voice: str, speed: int, pitch: int, amplitude: int, word_gap: int) -> np.ndarray:
    """espeak-ng -> (samples,) float32 mono at 16 kHz. ``text`` may hold [[phonemes]]."""
    exe = espeak_binary()
    fd, tmp = tempfile.mkstemp(prefix="espeak-", suffix=".wav")
    os.close(fd)
    cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
           "-g", str(word_gap), "-w", tmp, "--", text]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
            raise RuntimeError(f"espeak-ng failed on {text!r} with voice {voice!r} "
                               f"(exit {proc.returncode}): {proc.stderr.strip()}")
        return load_audio(tmp, SAMPLE_RATE)  # espeak-ng writes 22050 Hz; resampled to 16 kHz
    finally:
        os.unlink(tmp)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")


def synthesize(text: str, path: PathLike, voice: str = "en-us", speed: int = 160, pitch: int = 50,
               amplitude: int = 100, word_gap: int = 0) -> Path:
    """Speak ``text`` into a 16 kHz mono 16-bit wav at ``path``; returns the path.

    ``text`` goes to espeak-ng as is (so a lone "a" is the article; use ``spoken_form`` for
    letter names, or espeak-ng's ``[[phoneme]]`` syntax). ``word_gap`` adds a pause between
    words in units of 10 ms at the default speed (espeak-ng -g): ``word_gap=50`` separates
    words by about half a second of silence. No noise or padding is added.
    """
    if not text.strip():
        raise ValueError("text is empty")
    if not 80 <= speed <= 450:
        raise ValueError(f"speed must be 80-450 words per minute, got {speed}")
    if not 0 <= pitch <= 99:
        raise ValueError(f"pitch must be 0-99, got {pitch}")
    if not 0 <= amplitude <= 200:
        raise ValueError(f"amplitude must be 0-200, got {amplitude}")
    if word_gap < 0:
        raise ValueError(f"word_gap must be >= 0, got {word_gap}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    _write_wav(p, _espeak(text, voice, speed, pitch, amplitude, word_gap))
    return p


@dataclass(frozen=True)
class _Clip:
    """Everything needed to make one corpus clip; drawn up front so results are order-free."""

    id: str
    text: str
    speaker: str
    speed: int
    pitch: int
    amplitude: int
    word_gap: int
    pad_before: float
    pad_after: float
    snr_db: Optional[float]  # None: no noise
    noise_seed: int


def _plan(split: str, texts: list[str], seed: int) -> list[_Clip]:
    rng = random.Random(f"clips-{split}-{seed}")
    clips = []
    for i, text in enumerate(texts, 1):
        clips.append(_Clip(
            id=f"{split}_{i:05d}", text=text, speaker=rng.choice(SPEAKERS),
            speed=rng.randint(*SPEED_RANGE), pitch=rng.randint(*PITCH_RANGE),
            amplitude=rng.randint(*AMPLITUDE_RANGE), word_gap=rng.randint(*WORD_GAP_RANGE),
            pad_before=round(rng.uniform(*PAD_RANGE), 3), pad_after=round(rng.uniform(*PAD_RANGE), 3),
            snr_db=round(rng.uniform(*SNR_RANGE_DB), 1) if rng.random() < NOISE_PROB else None,
            noise_seed=rng.getrandbits(63)))
    return clips


def _make_clip(clip: _Clip, wav_dir: Path) -> dict:
    """Synthesise, pad, add noise, write; returns the manifest row (audio path relative)."""
    speech = _espeak(spoken_form(clip.text), clip.speaker, clip.speed, clip.pitch, clip.amplitude,
                     clip.word_gap)
    audio = np.concatenate([np.zeros(int(clip.pad_before * SAMPLE_RATE), np.float32), speech,
                            np.zeros(int(clip.pad_after * SAMPLE_RATE), np.float32)])
    if clip.snr_db is not None:
        # SNR against the speech as espeak made it (its own short silences included).
        power = float(np.mean(speech.astype(np.float64) ** 2))
        sigma = np.sqrt(power / 10 ** (clip.snr_db / 10))
        audio = audio + np.random.default_rng(clip.noise_seed).normal(0.0, sigma, len(audio)).astype(np.float32)
    peak = float(np.max(np.abs(audio)))
    if peak > PEAK_LIMIT:
        audio = audio * (PEAK_LIMIT / peak)
    _write_wav(wav_dir / f"{clip.id}.wav", audio)
    return {"audio": f"{wav_dir.name}/{clip.id}.wav", "text": clip.text,
            "duration": round(len(audio) / SAMPLE_RATE, 4), "speaker": clip.speaker, "id": clip.id}


def synthesize_texts(out_dir: PathLike, name: str, texts: Sequence[str], seed: int = 0, workers: int = 2) -> Path:
    """Speak each of ``texts`` (normalised transcripts) with a random voice, speed, pitch, padding
    and noise, as the corpus clips are; write ``out_dir/wav/<name>_NNNNN.wav`` and
    ``out_dir/<name>.jsonl``; return the manifest path."""
    out = Path(out_dir)
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(lambda c: _make_clip(c, wav_dir), _plan(name, list(texts), seed)))
    write_manifest(out / f"{name}.jsonl", rows)
    return out / f"{name}.jsonl"


def synthesize_corpus(out_dir: PathLike, n_train: int = 600, n_dev: int = 60, n_test: int = 60,
                      seed: int = 0, workers: int = 2) -> dict[str, Path]:
    """Write ``out_dir/wav/*.wav`` and ``train.jsonl``, ``dev.jsonl``, ``test.jsonl``.

    Returns {"train": path, "dev": path, "test": path}. Manifest audio paths are relative
    (``wav/train_00001.wav``), so the folder can be moved. Also writes ``synth_info.json``
    (seed, counts, speakers, espeak-ng version). Files from an earlier, larger run in the same
    folder are left in place; the manifests say which clips belong to the corpus.

    ``workers`` espeak-ng processes run at once. Threads are enough to drive them: the work is in
    the espeak-ng subprocess and in numpy/soxr, and threads avoid forking a parent that may hold
    torch state.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    espeak_binary()
    out = Path(out_dir)
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    texts = split_sentences(n_train, n_dev, n_test, seed)
    for split, ts in texts.items():
        for t in ts:
            assert normalize_text(t) == t, f"grammar produced unnormalised text {t!r}"

    manifests = {split: synthesize_texts(out, split, ts, seed, workers) for split, ts in texts.items()}

    version = subprocess.run([espeak_binary(), "--version"], capture_output=True, text=True).stdout.strip()
    info = {"seed": seed, "counts": {k: len(v) for k, v in texts.items()}, "speakers": list(SPEAKERS),
            "sample_rate": SAMPLE_RATE, "espeak_ng": version,
            "ranges": {"speed": SPEED_RANGE, "pitch": PITCH_RANGE, "amplitude": AMPLITUDE_RANGE,
                       "word_gap": WORD_GAP_RANGE, "pad_s": PAD_RANGE, "snr_db": SNR_RANGE_DB,
                       "noise_prob": NOISE_PROB}}
    (out / "synth_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return manifests
