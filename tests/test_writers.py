"""Transcript writers: srt/vtt parse back into valid, ordered cues; json round-trips; tsv in ms."""
from __future__ import annotations

import json
import random
import re

import pytest

from asr.decoding.types import Hypothesis, Word
from asr.transcribe import Segment
from asr.writers import FORMATS, MAX_CUE_CHARS, MAX_CUE_SECONDS, cues, render, to_json, to_srt, to_tsv, to_txt, to_vtt, \
    write_outputs

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex an extraordinary jukebox".split()


def make_segment(start: float, n_words: int, seed: int = 0, word_seconds: float = 0.4) -> Segment:
    """A segment of ``n_words`` words, each ``word_seconds`` long with 0.1 s gaps, from ``start``."""
    rng = random.Random(seed)
    words, t = [], start
    for _ in range(n_words):
        words.append(Word(rng.choice(WORDS), round(t, 3), round(t + word_seconds, 3), round(rng.uniform(0.3, 1.0), 4)))
        t += word_seconds + 0.1
    text = " ".join(w.text for w in words)
    return Segment(start, round(t, 3), text, words, [Hypothesis(text, [], -1.0, words)])


def segments() -> list[Segment]:
    """Short, empty and long segments, with an hour-plus start to exercise the HH field."""
    long_one = make_segment(20.0, 40, seed=2)  # ~20 s, ~250 characters: several cues
    empty = Segment(42.0, 43.0, "", [], [])
    late = make_segment(3725.5, 3, seed=3)
    return [make_segment(0.5, 5, seed=1), long_one, empty, late]


# ---------------------------------------------------------------- subtitle parsing
TIME = {"srt": r"(\d\d):(\d\d):(\d\d),(\d\d\d)", "vtt": r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"}


def seconds(m: tuple[str, ...]) -> float:
    h, mi, s, ms = map(int, m)
    assert mi < 60 and s < 60
    return h * 3600 + mi * 60 + s + ms / 1000


def parse_subtitles(text: str, fmt: str) -> list[tuple[float, float, list[str]]]:
    """-> [(start, end, text lines)]. Checks the block structure on the way."""
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n\n")
        text = text[len("WEBVTT\n\n"):]
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    blocks = text.rstrip("\n").split("\n\n")
    timing = re.compile(f"^{TIME[fmt]} --> {TIME[fmt]}$")
    out = []
    for i, block in enumerate(blocks, 1):
        lines = block.split("\n")
        if fmt == "srt":
            assert lines[0] == str(i), f"cue numbers must be consecutive: {lines[0]!r} at {i}"
            lines = lines[1:]
        m = timing.match(lines[0])
        assert m, f"bad timing line {lines[0]!r}"
        g = m.groups()
        out.append((seconds(g[:4]), seconds(g[4:]), lines[1:]))
    return out


def splittable(text: str, width: int = 42) -> bool:
    """Can ``text`` be cut at one space into two lines of at most ``width``?"""
    return len(text) <= width or any(c == " " and i <= width and len(text) - i - 1 <= width for i, c in enumerate(text))


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_parse_back(fmt):
    segs = segments()
    text = to_srt(segs) if fmt == "srt" else to_vtt(segs)
    parsed = parse_subtitles(text, fmt)
    assert len(parsed) >= 5  # the long segment was split
    prev_end = 0.0
    for start, end, lines in parsed:
        assert start < end
        assert start >= prev_end - 1e-9  # increasing, never overlapping
        prev_end = end
        assert 1 <= len(lines) <= 2 and all(lines)
        joined = " ".join(lines)
        assert len(joined) <= MAX_CUE_CHARS
        assert end - start <= MAX_CUE_SECONDS + 1e-9
        if splittable(joined):
            assert all(len(line) <= 42 for line in lines), lines
    # Every word, in order, nothing else.
    all_words = [w.text for s in segs for w in s.words]
    assert " ".join(" ".join(lines) for _, _, lines in parsed).split() == all_words
    # Cue times are word times.
    starts = {round(w.start, 3) for s in segs for w in s.words}
    assert all(round(s, 3) in starts for s, _, _ in parsed)
    assert parsed[0][0] == 0.5 and parsed[-1][1] == segs[-1].words[-1].end


def test_srt_and_vtt_hold_the_same_cues():
    segs = segments()
    a, b = parse_subtitles(to_srt(segs), "srt"), parse_subtitles(to_vtt(segs), "vtt")
    assert a == b


def test_timestamps():
    seg = Segment(3725.5, 3726.0, "hi", [Word("hi", 3725.5, 59.9996 + 3666, 1.0)])
    srt = to_srt([seg])
    assert "01:02:05,500 --> 01:02:06,000" in srt  # 3725.9996 rounds up across the second
    assert "01:02:05.500 --> 01:02:06.000" in to_vtt([seg])


def test_long_segment_splits_into_bounded_cues():
    seg = make_segment(10.0, 60, seed=5, word_seconds=0.3)
    cs = cues([seg])
    assert len(cs) > 3
    assert " ".join(t for _, _, t in cs) == seg.text
    for (s, e, t), nxt in zip(cs, cs[1:] + [None]):
        assert len(t) <= MAX_CUE_CHARS and e - s <= MAX_CUE_SECONDS
        if nxt is not None:
            # A cue is only cut when the next word would break a limit.
            first_next = nxt[2].split()[0]
            w_next = next(w for w in seg.words if w.start == nxt[0])
            assert len(t + " " + first_next) > MAX_CUE_CHARS or w_next.end - s > MAX_CUE_SECONDS


def test_slow_speech_splits_on_time():
    """Few characters but long words: the 7 s limit cuts."""
    words = [Word("ok", 2.0 * i, 2.0 * i + 1.5, 0.9) for i in range(10)]
    cs = cues([Segment(0.0, 20.0, " ".join(w.text for w in words), words)])
    assert len(cs) >= 3
    assert all(e - s <= MAX_CUE_SECONDS for s, e, _ in cs)


def test_segment_without_words_is_one_cue():
    cs = cues([Segment(1.0, 2.5, "no timings", []), Segment(3.0, 4.0, "", [])])
    assert cs == [(1.0, 2.5, "no timings")]


# ---------------------------------------------------------------- json, tsv, txt
def test_json_round_trip():
    segs = segments()
    segs[0].nbest = [Hypothesis(segs[0].text, [], -1.25, []), Hypothesis("another text", [], -3.5, [])]
    doc = json.loads(to_json(segs, audio="a/b.wav", duration=3730.0))
    assert doc["audio"] == "a/b.wav" and doc["duration"] == 3730.0
    assert doc["text"] == " ".join(s.text for s in segs if s.text)
    assert len(doc["segments"]) == len(segs)
    for d, s in zip(doc["segments"], segs):
        assert (d["start"], d["end"], d["text"]) == (pytest.approx(s.start), pytest.approx(s.end), s.text)
        assert [w["word"] for w in d["words"]] == [w.text for w in s.words]
        for dw, w in zip(d["words"], s.words):
            assert dw["start"] == pytest.approx(w.start, abs=5e-4) and dw["end"] == pytest.approx(w.end, abs=5e-4)
            assert dw["confidence"] == pytest.approx(w.confidence, abs=5e-5)
        assert ("nbest" in d) == (len(s.nbest) > 1)
    assert doc["segments"][0]["nbest"] == [{"text": segs[0].text, "score": -1.25}, {"text": "another text", "score": -3.5}]


def test_json_keeps_non_ascii():
    doc = to_json([Segment(0.0, 1.0, "café", [])])
    assert "café" in doc and json.loads(doc)["text"] == "café"


def test_tsv_in_milliseconds():
    segs = segments()
    lines = to_tsv(segs).rstrip("\n").split("\n")
    assert lines[0] == "start\tend\ttext"
    rows = [line.split("\t") for line in lines[1:]]
    spoken = [s for s in segs if s.text]
    assert len(rows) == len(spoken)
    for (start, end, text), s in zip(rows, spoken):
        assert int(start) == round(s.start * 1000) and int(end) == round(s.end * 1000)
        assert text == s.text
    assert rows[-1][0] == "3725500"


def test_txt():
    segs = segments()
    assert to_txt(segs).split("\n")[:-1] == [s.text for s in segs if s.text]
    assert to_txt([]) == "\n"


# ---------------------------------------------------------------- write_outputs
def test_write_outputs_all_formats(tmp_path):
    segs = segments()
    paths = write_outputs(segs, "/data/in/talk.flac", str(tmp_path / "out"), list(FORMATS), duration=3730.0)
    assert [p.name for p in paths] == [f"talk.{f}" for f in FORMATS]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"talk.{f}" for f in FORMATS)
    for p, fmt in zip(paths, FORMATS):
        assert p.read_text(encoding="utf-8") == render(fmt, segs, "/data/in/talk.flac", 3730.0)
    parse_subtitles(paths[FORMATS.index("srt")].read_text(), "srt")
    assert json.loads(paths[FORMATS.index("json")].read_text())["audio"] == "/data/in/talk.flac"


def test_unknown_format_raises(tmp_path):
    with pytest.raises(ValueError, match="'docx'"):
        write_outputs(segments(), "a.wav", str(tmp_path), ["docx"])
    assert list(tmp_path.iterdir()) == []


def test_wrap_two_lines_of_42_whenever_possible():
    from asr.writers import _wrap

    rng = random.Random(0)
    n_split = 0
    for _ in range(2000):
        words = ["x" * rng.randint(1, 14) for _ in range(rng.randint(1, 12))]
        text = " ".join(words)[:MAX_CUE_CHARS].strip()
        lines = _wrap(text).split("\n")
        assert " ".join(lines) == text and len(lines) <= 2
        if splittable(text):
            assert all(len(line) <= 42 for line in lines), text
            n_split += len(lines) == 2
    assert n_split > 500
