"""Cut long audio into utterance-sized segments at pauses, with bounded memory.

An energy voice-activity detector works on 10 ms frames of audio that arrives in blocks. A
segment ends at a pause (``min_silence`` of frames quieter than an adaptive threshold) or, when
no pause comes within ``max_seconds``, at the quietest frame of its last ``search_seconds``.
Segments never overlap and together cover all speech, so no word is duplicated or lost at a seam
(a cut can only split a word that has no quiet frame at all for ``search_seconds``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np


@dataclass
class SegmenterConfig:
    max_seconds: float = 30.0
    search_seconds: float = 5.0  # where to look for the quietest cut when no pause came
    min_silence: float = 0.3  # a pause at least this long ends a segment
    threshold_db: float = -55.0  # absolute floor: frames below this are silence
    relative_db: float = 35.0  # ... and so are frames this far below the running speech level
    pad_seconds: float = 0.15  # keep this much silence around speech
    frame_seconds: float = 0.01


@dataclass
class AudioSegment:
    start: float  # seconds in the original stream
    audio: np.ndarray  # (samples,) float32
    sample_rate: int

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / self.sample_rate


def _frame_db(x: np.ndarray, hop: int) -> np.ndarray:
    n = len(x) // hop
    frames = x[: n * hop].reshape(n, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def segment_stream(blocks: Iterable[np.ndarray], sample_rate: int, cfg: SegmenterConfig = SegmenterConfig()) -> Iterator[AudioSegment]:
    """(samples,) blocks -> speech segments in order; silence-only stretches are dropped."""
    hop = int(round(cfg.frame_seconds * sample_rate))
    max_len = int(cfg.max_seconds * sample_rate)
    min_sil = max(1, int(round(cfg.min_silence / cfg.frame_seconds)))
    pad = int(cfg.pad_seconds * sample_rate)
    buf = np.zeros(0, np.float32)  # audio not yet emitted, starting at sample ``base``
    base = 0
    level = cfg.threshold_db + cfg.relative_db  # running speech level estimate (dB)

    def silent(db: np.ndarray) -> np.ndarray:
        return db < max(cfg.threshold_db, level - cfg.relative_db)

    def emit(a: int, b: int) -> Iterator[AudioSegment]:
        """Yield buf[a:b] (trimmed of leading / trailing silence, padded) if it holds speech."""
        chunk = buf[a:b]
        db = _frame_db(chunk, hop)
        voiced = np.flatnonzero(~silent(db))
        if len(voiced):
            s = max(0, voiced[0] * hop - pad)
            e = min(len(chunk), (voiced[-1] + 1) * hop + pad)
            yield AudioSegment(float(base + a + s) / sample_rate, chunk[s:e].copy(), sample_rate)

    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, np.float32)])
        db = _frame_db(buf, hop)
        loud = db[db > cfg.threshold_db]
        if len(loud):
            level = max(level - 0.5, float(np.percentile(loud, 90)))  # slow decay, fast attack
        sil = silent(db)
        start = 0
        while True:
            # The first pause (min_sil silent frames) after some speech, within max_len.
            limit = min(len(db), start // hop + max_len // hop)
            cut = None
            run = 0
            for i in range(start // hop, limit):
                run = run + 1 if sil[i] else 0
                if run >= min_sil and i - run + 1 > start // hop:
                    cut = (i - run // 2) * hop  # middle of the pause
                    break
            if cut is None and len(buf) - start >= max_len:
                lo = start // hop + max(1, int((cfg.max_seconds - cfg.search_seconds) / cfg.frame_seconds))
                cut = (lo + int(np.argmin(db[lo:limit]))) * hop
            if cut is None or cut <= start:
                break
            yield from emit(start, cut)
            start = cut
        buf = buf[start:]
        base += start
    if len(buf):
        yield from emit(0, len(buf))
