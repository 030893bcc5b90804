"""Long-audio segmentation on synthetic signals: noise bursts are speech, zeros or faint noise are
silence. Segments cover every burst, never overlap, cut long speech at its quietest point, do not
depend on the block size, and come out lazily with a bounded buffer."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

import asr.segment as segment_module
from asr.segment import AudioSegment, SegmenterConfig, segment_stream

SR = 8000
FRAME = 0.01


def signal(seconds: float, bursts: list[tuple[float, float]], floor: float = 0.0, seed: int = 0,
           amplitude: float = 0.3) -> np.ndarray:
    """(samples,) float32: Gaussian noise of std ``amplitude`` in each (start, end) burst, std
    ``floor`` elsewhere (0: digital silence; 1e-3: -60 dB, below the -55 dB floor)."""
    rng = np.random.default_rng(seed)
    x = floor * rng.standard_normal(int(seconds * SR))
    for a, b in bursts:
        i, j = int(round(a * SR)), int(round(b * SR))
        x[i:j] = amplitude * rng.standard_normal(j - i)
    return x.astype(np.float32)


def blocks(x: np.ndarray, seconds: float | None) -> Iterator[np.ndarray]:
    n = len(x) if seconds is None else int(round(seconds * SR))
    for i in range(0, len(x), n):
        yield x[i:i + n]


def run(x: np.ndarray, block_seconds: float | None = 1.0, cfg: SegmenterConfig = SegmenterConfig()) -> list[AudioSegment]:
    return list(segment_stream(blocks(x, block_seconds), SR, cfg))


def bounds(segs: list[AudioSegment]) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in segs]


def check_well_formed(segs: list[AudioSegment], x: np.ndarray) -> None:
    """Ordered, non-overlapping, inside the signal, and each holds exactly the input's samples."""
    prev_end = 0.0
    for s in segs:
        assert isinstance(s, AudioSegment) and s.sample_rate == SR and s.audio.dtype == np.float32
        assert prev_end - 1e-9 <= s.start < s.end <= len(x) / SR + 1e-9
        i = int(round(s.start * SR))
        np.testing.assert_array_equal(s.audio, x[i:i + len(s.audio)])
        prev_end = s.end


BURSTS = [(0.5, 1.5), (2.5, 3.0), (4.0, 6.0), (6.8, 7.1), (9.0, 9.5)]


# ---------------------------------------------------------------- pauses
@pytest.mark.parametrize("floor", [0.0, 1e-3])
def test_one_segment_per_burst_within_padding(floor):
    cfg = SegmenterConfig()
    x = signal(10.0, BURSTS, floor)
    segs = run(x, 1.0, cfg)
    check_well_formed(segs, x)
    assert len(segs) == len(BURSTS)
    for s, (a, b) in zip(segs, BURSTS):
        assert a - cfg.pad_seconds - FRAME <= s.start <= a
        assert b <= s.end <= b + cfg.pad_seconds + FRAME


def test_short_pause_does_not_split():
    cfg = SegmenterConfig(min_silence=0.3)
    x = signal(4.0, [(0.5, 1.5), (1.7, 2.5)])  # 0.2 s pause
    segs = run(x, 1.0, cfg)
    assert len(segs) == 1
    assert segs[0].start <= 0.5 and segs[0].end >= 2.5


@pytest.mark.parametrize("floor,seconds", [(0.0, 5.0), (1e-3, 5.0), (0.0, 75.0), (1e-3, 75.0)])
def test_silence_gives_no_segments(floor, seconds):
    assert run(signal(seconds, [], floor), 7.0) == []


def test_empty_input():
    assert list(segment_stream(iter([]), SR)) == []
    assert list(segment_stream([np.zeros(0, np.float32)], SR)) == []


# ---------------------------------------------------------------- speech without pauses
def dipped_speech(seconds: float, dips: list[float], seed: int = 0) -> np.ndarray:
    """Continuous noise 'speech' whose loudness falls to 1/15 in a 0.4 s V around each dip time
    (still far above the silence threshold: no pause anywhere)."""
    t = np.arange(int(seconds * SR)) / SR
    env = np.ones_like(t)
    for d in dips:
        env = np.minimum(env, np.clip(np.abs(t - d) / 0.2, 1 / 15, 1.0))
    rng = np.random.default_rng(seed)
    return (0.3 * env * rng.standard_normal(len(t))).astype(np.float32)


def test_long_speech_is_cut_at_its_quietest_point():
    cfg = SegmenterConfig()  # max 30 s, the cut searched in the last 5 s
    x = dipped_speech(70.0, dips=[12.0, 27.0, 55.0])  # 12 s: too early to be searched
    segs = run(x, 7.0, cfg)
    check_well_formed(segs, x)
    assert len(segs) == 3
    assert all(s.end - s.start <= cfg.max_seconds for s in segs)
    (s1, e1), (s2, e2), (s3, e3) = bounds(segs)
    assert s1 == 0.0 and e3 == pytest.approx(70.0)
    assert e1 == pytest.approx(s2, abs=1e-9) and e2 == pytest.approx(s3, abs=1e-9)  # contiguous: nothing lost at a seam
    assert e1 == pytest.approx(27.0, abs=0.05) and e2 == pytest.approx(55.0, abs=0.05)


# ---------------------------------------------------------------- block size
@pytest.mark.parametrize("make,cfg", [
    (lambda: signal(10.0, BURSTS, 1e-3), SegmenterConfig()),
    # forced cuts too: 3.5 s of unbroken speech with max_seconds=1.5
    (lambda: signal(10.0, [(0.5, 4.0), (5.0, 5.5), (6.0, 9.7)], 1e-3, seed=3), SegmenterConfig(max_seconds=1.5, search_seconds=0.5)),
    (lambda: dipped_speech(9.0, [2.5, 5.0]), SegmenterConfig(max_seconds=3.0, search_seconds=1.0)),
])
def test_independent_of_block_size(make, cfg):
    """Frames stay on the same absolute grid and a cut is only decided once the audio it looks at
    has arrived, so with a steady speech level the segments are identical for any block size."""
    x = make()
    ref = run(x, None, cfg)
    assert len(ref) >= 3
    check_well_formed(ref, x)
    for block in (0.1, 0.37, 1.0, 7.0):
        segs = run(x, block, cfg)
        assert bounds(segs) == bounds(ref), block
        for a, b in zip(segs, ref):
            np.testing.assert_array_equal(a.audio, b.audio)


def test_independent_of_block_size_long_speech():
    x = dipped_speech(70.0, dips=[27.0, 55.0])
    ref = bounds(run(x, None))
    assert len(ref) == 3
    for block in (1.0, 7.0):
        assert bounds(run(x, block)) == ref


# ---------------------------------------------------------------- laziness and memory
class NumpySpy:
    """Stands in for numpy inside asr.segment and records the longest array np.concatenate
    builds (the segmenter's buffer)."""

    def __init__(self) -> None:
        self.longest = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def concatenate(self, arrays, *args, **kw):
        out = np.concatenate(arrays, *args, **kw)
        self.longest = max(self.longest, len(out))
        return out


@pytest.mark.parametrize("kind", ["speech", "silence", "bursts"])
@pytest.mark.parametrize("block", [0.25, 1.0, 3.0])
def test_buffer_never_exceeds_max_plus_block(monkeypatch, kind, block):
    cfg = SegmenterConfig(max_seconds=4.0, search_seconds=1.0)
    x = {"speech": lambda: dipped_speech(20.0, [7.0]), "silence": lambda: signal(20.0, [], 1e-3),
         "bursts": lambda: signal(20.0, [(1.0, 9.0), (10.0, 10.5), (12.0, 19.0)], 1e-3)}[kind]()
    spy = NumpySpy()
    monkeypatch.setattr(segment_module, "np", spy)
    segs = run(x, block, cfg)
    assert spy.longest > 0  # the spy saw the buffer
    assert spy.longest <= (cfg.max_seconds + block) * SR
    if kind != "silence":
        assert segs and all(s.end - s.start <= cfg.max_seconds + 1e-9 for s in segs)


def test_segments_come_out_lazily():
    """A segment is yielded as soon as its end is known, not when the input ends."""
    cfg = SegmenterConfig(max_seconds=4.0, search_seconds=1.0)
    x = signal(20.0, [(1.0, 2.0), (5.0, 6.0), (8.0, 16.0)], 1e-3)
    consumed = 0.0

    def feed() -> Iterator[np.ndarray]:
        nonlocal consumed
        for b in blocks(x, 0.5):
            consumed += len(b) / SR
            yield b

    seen = []
    for s in segment_stream(feed(), SR, cfg):
        seen.append((s.start, s.end, consumed))
    assert len(seen) >= 4
    assert seen[0][2] < 3.0  # the first burst ends at 2 s: out long before the 20 s are read
    for start, end, at in seen[:2]:  # ended by pauses: out once min_silence of pause has arrived
        assert at <= end + cfg.min_silence + 0.5 + FRAME, (start, end, at)
    for start, end, at in seen[:-1]:
        # A pause ends a segment min_silence after its speech; a cut without a pause comes once
        # max_seconds are buffered (from the previous cut, which is before ``start``).
        assert at <= max(end + cfg.min_silence, start + cfg.max_seconds) + 0.5 + FRAME, (start, end, at)
