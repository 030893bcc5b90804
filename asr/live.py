"""Live transcription from the microphone: Microphone -> StreamingRecognizer -> display."""
from __future__ import annotations

import json
import sys
import time
from typing import Callable, Optional, TextIO

import soundfile as sf

from .config import DecodeConfig
from .mic import Microphone, MicrophoneError
from .model import AcousticModel
from .streaming import EndpointConfig, Event, StreamingRecognizer


class Display:
    """One updating line for the partial text on a terminal; plain lines otherwise."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out, self.tty, self.width = out, out.isatty(), 0

    def show(self, e: Event) -> None:
        if e.kind == "partial" and self.tty:
            line = f"… {e.text}"
            self.out.write("\r" + line + " " * max(0, self.width - len(line)))
            self.width = len(line)
        else:
            prefix = "\r" + " " * self.width + "\r" if self.tty and self.width else ""
            self.width = 0
            if e.kind == "final" and not e.text:  # nothing recognised: just clear the partial line
                self.out.write(prefix)
            else:
                self.out.write(f"{prefix}[{e.start:6.2f}-{e.end:6.2f}] {e.text}\n" if e.kind == "final" else f"~ {e.text}\n")
        self.out.flush()


def run_live(model: AcousticModel, device=None, decode: Optional[DecodeConfig] = None,
             endpoint: Optional[EndpointConfig] = None, save: Optional[str] = None, output: Optional[str] = None,
             duration: Optional[float] = None, on_event: Optional[Callable[[Event], None]] = None,
             on_ready: Optional[Callable[[Microphone], None]] = None, status: TextIO = sys.stderr,
             boost_quiet: bool = False) -> list[Event]:
    """Transcribe the microphone until Ctrl-C (or ``duration`` seconds); returns all events.

    Ctrl-C finishes the current utterance, so its final result is not lost.
    """
    rec = StreamingRecognizer(model, decode, endpoint, boost_quiet=boost_quiet)
    events: list[Event] = []
    wav = None
    log = open(output, "a", encoding="utf-8") if output else None

    def emit(evs: list[Event]) -> None:
        for e in evs:
            events.append(e)
            if on_event:
                on_event(e)
            if log:
                log.write(json.dumps({"kind": e.kind, "text": e.text, "start": round(e.start, 3), "end": round(e.end, 3),
                                      "utterance": e.utterance, "wall": round(time.time(), 3)}) + "\n")
                log.flush()

    with Microphone(device) as mic:
        if save:
            wav = sf.SoundFile(save, "w", samplerate=mic.sample_rate, channels=1, subtype="PCM_16")
        if not mic.first_block.wait(5.0):
            raise MicrophoneError("the microphone delivered no audio within 5 s")
        print(f"listening on {device if device is not None else 'the default input'} at {mic.sample_rate} Hz "
              f"(Ctrl-C to stop)", file=status, flush=True)
        if on_ready:
            on_ready(mic)
        start = time.monotonic()
        try:
            while duration is None or time.monotonic() - start < duration:
                block = mic.read_all(timeout=0.5)
                if block is None:
                    continue
                if wav is not None:
                    wav.write(block)
                emit(rec.accept(block, sample_rate=mic.sample_rate))
        except KeyboardInterrupt:
            pass
        finally:
            emit(rec.finish())
            if wav is not None:
                wav.close()
            if log:
                log.close()
            s = mic.stats
            print(f"captured {s.blocks} blocks, dropped {s.dropped}, input overflows {s.overflows}", file=status, flush=True)
    return events
