"""Long audio: a 30-minute file is transcribed segment by segment with flat memory, and every
segment stays in the file's time."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.config import FeatureConfig, ModelConfig
from asr.model import AcousticModel
from asr.text import Vocabulary

SR = 16000

_MEASURE = """
import json, resource, sys
import asr
rec = asr.load_model(sys.argv[1])
segs = [(s.start, s.end, len(s.words)) for s in rec.segments(sys.argv[2])]
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "segments": segs}))
"""


def _write_bursty(path: Path, minutes: float, seed: int) -> list[tuple[float, float]]:
    """Noise bursts (0.5-4 s, 'speech') separated by 0.4-1.5 s of near-silence, written in blocks."""
    rng = np.random.default_rng(seed)
    bursts, t = [], 0.0
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, format="FLAC") as f:
        while t < minutes * 60:
            gap = rng.uniform(0.4, 1.5)
            f.write((rng.standard_normal(int(gap * SR)) * 1e-4).astype(np.float32))
            t += gap
            dur = rng.uniform(0.5, 4.0)
            f.write((rng.standard_normal(int(dur * SR)) * 0.1).astype(np.float32))
            bursts.append((t, t + dur))
            t += dur
    return bursts


@pytest.mark.slow
def test_thirty_minutes_flat_memory_and_file_time(tmp_path):
    torch.manual_seed(0)
    model = tmp_path / "tiny.pt"
    AcousticModel(FeatureConfig(), ModelConfig(hidden=16, layers=1), Vocabulary()).save(model)
    results = {}
    for minutes in (3, 30):
        audio = tmp_path / f"long{minutes}.flac"
        bursts = _write_bursty(audio, minutes, seed=minutes)
        out = subprocess.run([sys.executable, "-c", _MEASURE, str(model), str(audio)], capture_output=True, text=True, check=True)
        results[minutes] = (json.loads(out.stdout), bursts, sf.info(str(audio)).duration)

    (r30, bursts30, duration30) = results[30]
    segs = r30["segments"]
    # Every segment is at most 30 s, in order, non-overlapping, inside the file.
    assert all(e - s <= 30.0 + 1e-6 for s, e, _ in segs)
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(segs, segs[1:]))
    assert segs[0][0] >= 0 and segs[-1][1] <= duration30 + 1e-6
    # Every burst ("speech") lies inside some segment, so nothing is lost at the seams.
    i = 0
    for b0, b1 in bursts30:
        while i < len(segs) and segs[i][1] < b0 + 0.05:
            i += 1
        assert i < len(segs) and segs[i][0] <= b0 + 0.05 and b1 - 0.05 <= segs[i][1], (b0, b1)
    assert segs[-1][1] >= duration30 - 5.0  # the end of the file is reached
    # Peak memory does not grow with length: 10x the audio, about the same footprint.
    assert r30["rss_mb"] < results[3][0]["rss_mb"] + 60, (results[3][0]["rss_mb"], r30["rss_mb"])
