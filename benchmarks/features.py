#!/usr/bin/env python3
"""Speed of the log-mel front end: librosa versus ``asr.features.log_mel`` (torch).

    python benchmarks/features.py [--seconds 60 --repeats 30]

Both compute 80 Slaney mels of 25 ms / 10 ms frames (n_fft 400, power 2, centre padding) and
a natural log, on the same audio: 60 s of real speech (AN4 test utterances, concatenated) when
``../shared/corpora/an4`` exists, else espeak-ng speech, else a synthetic signal.

Each front end is warmed up, then timed in ``--repeats`` alternating rounds; the median is reported, as
milliseconds of compute per second of audio. Rows: 1 thread for both (torch.set_num_threads(1),
BLAS limited to 1 thread for librosa's mel matrix product when threadpoolctl is installed), and
each library's default thread count. The headline keys of the JSON are the 1-thread row.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from asr.audio import SAMPLE_RATE, load_audio  # noqa: E402
from benchmarks.common import write_result  # noqa: E402

AN4 = ROOT.parent / "shared" / "corpora" / "an4"
N_FFT, HOP, WIN, N_MELS, LOG_FLOOR = 400, 160, 400, 80, 1e-10


# ---------------------------------------------------------------- audio
def an4_audio(seconds: float) -> Optional[np.ndarray]:
    """AN4 test utterances concatenated and cut to ``seconds``; None if AN4 is absent or short."""
    test_dir = AN4 / "wav" / "an4test_clstk"
    files = sorted(p for p in test_dir.glob("*/*") if p.suffix in (".flac", ".wav", ".sph"))
    need = int(seconds * SAMPLE_RATE)
    parts, have = [], 0
    for f in files:
        parts.append(load_audio(f))
        have += len(parts[-1])
        if have >= need:
            return np.concatenate(parts)[:need]
    return None


def espeak_audio(seconds: float) -> Optional[np.ndarray]:
    """espeak-ng sentences concatenated to ``seconds``; None if espeak-ng is not installed."""
    import random

    from asr.data.synth import SPEAKERS, random_sentence, spoken_form, synthesize

    need = int(seconds * SAMPLE_RATE)
    rng = random.Random(0)
    parts, have = [], 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            while have < need:
                path = synthesize(spoken_form(random_sentence(rng)), Path(tmp) / "x.wav", voice=rng.choice(SPEAKERS))
                parts.append(load_audio(path))
                have += len(parts[-1])
    except RuntimeError:
        return None
    return np.concatenate(parts)[:need]


def generated_audio(seconds: float) -> np.ndarray:
    """A speech-like stand-in: a gliding harmonic tone with syllable-rate envelope, plus noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    noise = np.random.default_rng(0).normal(0, 0.01, len(t))
    return (0.1 * envelope * voiced + noise).astype(np.float32)


def benchmark_audio(seconds: float) -> tuple[np.ndarray, str]:
    audio = an4_audio(seconds) if AN4.is_dir() else None
    if audio is not None:
        return audio, "AN4 test utterances (real speech)"
    audio = espeak_audio(seconds)
    if audio is not None:
        return audio, "espeak-ng sentences (synthetic speech)"
    return generated_audio(seconds), "generated harmonic signal"


# ---------------------------------------------------------------- front ends
def librosa_log_mel(audio: np.ndarray) -> np.ndarray:
    """(samples,) -> (frames, n_mels), natural log of librosa's mel power spectrogram."""
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                         win_length=WIN, n_mels=N_MELS, power=2.0, center=True,
                                         htk=False, norm="slaney")
    return np.log(np.maximum(mel, LOG_FLOOR)).T


def torch_front_end() -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """``asr.features.log_mel`` bound to the benchmark's config, or None if it is not there yet."""
    try:
        from asr.config import FeatureConfig
        from asr.features import log_mel
    except ImportError as e:
        print(f"note: torch front end unavailable ({e}); timing librosa only", file=sys.stderr)
        return None
    cfg = FeatureConfig(sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN, hop_length=HOP,
                        n_mels=N_MELS, log_floor=LOG_FLOOR)
    return lambda audio: log_mel(audio, cfg)


def interleaved_median_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median milliseconds per call of each function, timed in alternating rounds (one call of
    each per round): this machine's speed drifts by 2x over seconds (shared host), and alternating
    exposes every front end to the same drift instead of giving one the fast minute."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


@contextmanager
def blas_threads(n: Optional[int]) -> Iterator[None]:
    """Limit BLAS/OpenMP threads (for librosa's numpy) to n; None leaves the default."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("note: threadpoolctl not installed; librosa runs with default BLAS threads", file=sys.stderr)
        ctx = nullcontext()
    else:
        ctx = threadpool_limits(limits=n)
    with ctx:
        yield


# ---------------------------------------------------------------- main
def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="audio length to process")
    ap.add_argument("--repeats", type=int, default=30, help="timed rounds (one call of each front end per round; median)")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1:
        ap.error(f"need --seconds > 0 and --repeats >= 1, got {args.seconds}, {args.repeats}")

    audio, source = benchmark_audio(args.seconds)
    seconds = len(audio) / SAMPLE_RATE
    waveform = torch.from_numpy(audio)
    torch_fn = torch_front_end()

    max_diff = None
    if torch_fn is not None:
        ref = librosa_log_mel(audio)
        got = torch_fn(waveform).numpy()
        if got.shape != ref.shape:
            raise SystemExit(f"shape mismatch: torch {got.shape} vs librosa {ref.shape}")
        max_diff = float(np.max(np.abs(got - ref)[ref > np.log(1e-6)]))  # where the log is not near the floor

    default_threads = torch.get_num_threads()
    rows = []
    for threads in sorted({1, default_threads}):
        fns: dict[str, Callable[[], object]] = {"librosa": lambda: librosa_log_mel(audio)}
        if torch_fn is not None:
            fns["torch"] = lambda: torch_fn(waveform)
        torch.set_num_threads(threads)
        try:
            with blas_threads(1 if threads == 1 else None), torch.inference_mode():
                ms = interleaved_median_ms(fns, args.repeats)
        finally:
            torch.set_num_threads(default_threads)
        lib_ms = ms["librosa"] / seconds
        tor_ms = ms["torch"] / seconds if "torch" in ms else None
        rows.append({"threads": threads, "librosa_ms_per_audio_s": lib_ms, "torch_ms_per_audio_s": tor_ms,
                     "speedup": lib_ms / tor_ms if tor_ms else None})

    print(f"audio: {seconds:.1f} s of {source}; median of {args.repeats} alternating rounds after warm-up")
    if max_diff is not None:
        print(f"max |torch - librosa| log-mel difference: {max_diff:.2e}")
    print(f"{'threads':>7} {'librosa ms/s':>13} {'torch ms/s':>11} {'speedup':>8}")
    for r in rows:
        t = f"{r['torch_ms_per_audio_s']:11.3f}" if r["torch_ms_per_audio_s"] else f"{'n/a':>11}"
        s = f"{r['speedup']:7.2f}x" if r["speedup"] else f"{'n/a':>8}"
        print(f"{r['threads']:>7} {r['librosa_ms_per_audio_s']:13.3f} {t} {s}")

    one = rows[0]  # threads == 1
    write_result("features.json", {
        "librosa_ms_per_audio_s": one["librosa_ms_per_audio_s"],
        "torch_ms_per_audio_s": one["torch_ms_per_audio_s"],
        "speedup": one["speedup"],
        "threads": one["threads"],
        "by_threads": rows,
        "max_abs_diff": max_diff,
        "audio_seconds": seconds,
        "audio_source": source,
        "repeats": args.repeats,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
