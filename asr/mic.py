"""Microphone capture with sounddevice (PortAudio): the callback only copies into a bounded queue.

The audio thread never blocks: when the consumer falls behind and the queue is full, the block
is dropped and counted (``dropped``); PortAudio's own input overflows are counted too
(``overflows``). The consumer drains everything queued at once (``read_all``), so a slow moment
is caught up in one larger step instead of a growing delay.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np


class MicrophoneError(RuntimeError):
    """No usable input device, PortAudio missing, or the device went away."""


def _sounddevice():
    try:
        import sounddevice as sd
    except OSError as e:  # the Python package is there but libportaudio is not
        raise MicrophoneError("PortAudio is not installed: apt-get install libportaudio2 (or your OS's portaudio package)") from e
    except ImportError as e:
        raise MicrophoneError("sounddevice is not installed: pip install sounddevice") from e
    return sd


def list_devices() -> str:
    """A table of input devices, the default marked with '*'."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
    except Exception as e:
        raise MicrophoneError(f"cannot list audio devices: {e}") from e
    lines = []
    for i, d in enumerate(devices):
        if d["max_input_channels"] > 0:
            mark = "*" if i == default_in else " "
            lines.append(f"{mark} {i:3d}  {d['name']}  ({d['max_input_channels']} in, {d['default_samplerate']:.0f} Hz)")
    if not lines:
        return "no input devices found"
    return "\n".join(lines)


@dataclass
class MicStats:
    blocks: int = 0
    dropped: int = 0  # blocks thrown away because the queue was full (consumer too slow)
    overflows: int = 0  # PortAudio reported input overflow (samples lost before we saw them)


DEFAULT_BLOCK_MS = 100.0  # audio per capture callback


class Microphone:
    """``with Microphone(...) as mic: block = mic.read_all(timeout)``; blocks are (n,) float32 mono."""

    def __init__(self, device: Optional[Union[int, str]] = None, sample_rate: Optional[int] = None,
                 block_ms: float = DEFAULT_BLOCK_MS, max_queue_seconds: float = 10.0) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(device, kind="input")
        except Exception as e:
            raise MicrophoneError(f"no usable input device{f' {device!r}' if device is not None else ''} ({e}); "
                                  "see `asr live --list-devices`") from e
        self.device = device
        self.sample_rate = int(sample_rate or info["default_samplerate"])  # the device's native rate
        self.channels = 1
        self.block = max(1, int(self.sample_rate * block_ms / 1000))
        self.stats = MicStats()
        self.first_block = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(2, int(max_queue_seconds * 1000 / block_ms)))
        self._sd = sd
        self._stream = None

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's thread: copy, never block
        if status and status.input_overflow:
            self.stats.overflows += 1
        try:
            self._queue.put_nowait(indata[:, 0].copy())
            self.stats.blocks += 1
        except queue.Full:
            self.stats.dropped += 1
        self.first_block.set()

    def __enter__(self) -> "Microphone":
        try:
            self._stream = self._sd.InputStream(device=self.device, samplerate=self.sample_rate, channels=self.channels,
                                                dtype="float32", blocksize=self.block, callback=self._callback)
            self._stream.start()
        except Exception as e:
            raise MicrophoneError(f"cannot open the microphone: {e}") from e
        return self

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:
                pass
            self._stream = None

    def read_all(self, timeout: float = 1.0) -> Optional[np.ndarray]:
        """Everything captured so far (waiting up to ``timeout`` for the first block), or None.
        Raises MicrophoneError if the stream died (device unplugged)."""
        try:
            blocks = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            if self._stream is not None and not self._stream.active:
                raise MicrophoneError("the microphone stopped delivering audio (disconnected?)")
            return None
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return np.concatenate(blocks)
