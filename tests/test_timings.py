"""Word timings from the CTC alignment match where words really are (synthesized speech
separated by known silences), in the file's time.

Starts and ends are within 100 ms. CTC emits a word's last letter as a spike that can come before
the sound ends (measured: "four" ended 0.31 s early), so ends are refined with the audio's energy
(asr.decoding.timing)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asr.config import DecodeConfig
from asr.transcribe import load_model
from conftest import WORD_VOCAB

WORDS = ["seven", "stop", "yes", "help", "four"]


def _speech_extent(audio: np.ndarray, sr: int) -> tuple[int, int]:
    """First and last sample of a clip louder than -40 dB of its peak (10 ms frames)."""
    hop = sr // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    db = 10 * np.log10((frames**2).mean(1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - 40)
    return loud[0] * hop, (loud[-1] + 1) * hop


@pytest.mark.slow
def test_word_timings_within_100ms(words_model, tmp_path):
    from asr.data.synth import synthesize

    sr = 16000
    rng = np.random.default_rng(0)
    pieces, truth, t = [np.zeros(int(0.7 * sr), np.float32)], [], int(0.7 * sr)
    for i, w in enumerate(WORDS):
        clip, clip_sr = sf.read(synthesize(w, tmp_path / f"{w}.wav", voice="en-us", speed=150), dtype="float32")
        assert clip_sr == sr
        s, e = _speech_extent(clip, sr)
        clip = clip[s:e]
        truth.append((w, t / sr, (t + len(clip)) / sr))
        gap = np.zeros(int(rng.uniform(0.6, 1.2) * sr), np.float32)
        pieces += [clip, gap]
        t += len(clip) + len(gap)
    path = tmp_path / "spaced.wav"
    sf.write(path, np.concatenate(pieces), sr)
    (tmp_path / "lexicon.txt").write_text("\n".join(WORD_VOCAB) + "\n")

    rec = load_model(words_model, decode=DecodeConfig(decoder="beam", lexicon=str(tmp_path / "lexicon.txt")))
    words = [w for seg in rec.segments(path) for w in seg.words]
    assert [w.text for w in words] == WORDS
    for w, (text, start, end) in zip(words, truth):
        assert abs(w.start - start) <= 0.1, (text, w.start, start)
        assert abs(w.end - end) <= 0.1, (text, w.end, end)
        assert 0.0 <= w.confidence <= 1.0
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))
