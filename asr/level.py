"""Input level: very quiet audio is raised to a level the models know.

The training corpora's recordings peak above -40 dBFS (AN4, FSDD, Libri-light, speechocean762;
FSDD's quietest at about -32 dBFS). Speech far below that (a distant microphone, a recording
made at -50 dBFS) gives log-mel frames the models never saw, and garbage. So audio whose peak is
under QUIET_PEAK is amplified towards TARGET_PEAK, by at most MAX_GAIN_DB (faint hiss is not
turned into loud noise); anything louder passes unchanged, bit for bit.

Files use the whole file's peak (``boost_quiet``); streams cannot look ahead and use the peak
so far (``RunningGain``), so the gain only ever falls as louder audio arrives.
"""
from __future__ import annotations

import numpy as np

QUIET_PEAK = 0.01  # -40 dBFS
TARGET_PEAK = 0.3  # about -10 dBFS, the training recordings' median peak
MAX_GAIN_DB = 40.0


def quiet_gain(peak: float) -> float:
    """The factor for audio whose absolute peak is ``peak``: 1 unless it is quieter than QUIET_PEAK."""
    if not 0.0 < peak < QUIET_PEAK:
        return 1.0
    return min(TARGET_PEAK / peak, 10.0 ** (MAX_GAIN_DB / 20.0))


def boost_quiet(samples: np.ndarray) -> np.ndarray:
    """``samples`` raised by ``quiet_gain`` of their peak (the same array when no gain applies)."""
    if len(samples) == 0:
        return samples
    gain = quiet_gain(float(np.abs(samples).max()))
    return samples if gain == 1.0 else (samples * gain).astype(np.float32)


class RunningGain:
    """``quiet_gain`` of the peak so far, applied block by block."""

    def __init__(self) -> None:
        self.peak = 0.0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if len(block):
            self.peak = max(self.peak, float(np.abs(block).max()))
        gain = quiet_gain(self.peak)
        return block if gain == 1.0 else (block * gain).astype(np.float32)
