"""Transcript writers: txt, json, srt, vtt, tsv."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from .decoding.types import Word

FORMATS = ("txt", "json", "srt", "vtt", "tsv")
MAX_CUE_CHARS = 84  # two subtitle lines of 42 characters
MAX_CUE_SECONDS = 7.0


def _timestamp(seconds: float, sep: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def cues(segments: Sequence) -> list[tuple[float, float, str]]:
    """Subtitle cues: segments split at word boundaries into <= 84 characters and <= 7 s."""
    out = []
    for seg in segments:
        words: list[Word] = list(seg.words)
        if not words:
            if seg.text:
                out.append((seg.start, seg.end, seg.text))
            continue
        cur: list[Word] = []
        for w in words:
            text = " ".join(x.text for x in cur + [w])
            if cur and (len(text) > MAX_CUE_CHARS or w.end - cur[0].start > MAX_CUE_SECONDS):
                out.append((cur[0].start, cur[-1].end, " ".join(x.text for x in cur)))
                cur = []
            cur.append(w)
        out.append((cur[0].start, cur[-1].end, " ".join(x.text for x in cur)))
    return out


def _wrap(text: str, width: int = 42) -> str:
    """At most two lines, split at the space nearest the middle when longer than ``width``."""
    if len(text) <= width or " " not in text:
        return text
    mid = len(text) // 2
    cut = min((i for i, c in enumerate(text) if c == " "), key=lambda i: abs(i - mid))
    return text[:cut] + "\n" + text[cut + 1 :]


def to_srt(segments: Sequence) -> str:
    blocks = [f"{i}\n{_timestamp(s, ',')} --> {_timestamp(e, ',')}\n{_wrap(t)}\n" for i, (s, e, t) in enumerate(cues(segments), 1)]
    return "\n".join(blocks)


def to_vtt(segments: Sequence) -> str:
    blocks = [f"{_timestamp(s, '.')} --> {_timestamp(e, '.')}\n{_wrap(t)}\n" for s, e, t in cues(segments)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_tsv(segments: Sequence) -> str:
    rows = ["start\tend\ttext"] + [f"{int(round(s.start * 1000))}\t{int(round(s.end * 1000))}\t{s.text}" for s in segments if s.text]
    return "\n".join(rows) + "\n"


def to_txt(segments: Sequence) -> str:
    return "\n".join(s.text for s in segments if s.text) + "\n"


def to_json(segments: Sequence, audio: str = "", duration: float = 0.0) -> str:
    def word(w: Word) -> dict:
        return {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3), "confidence": round(w.confidence, 4)}

    doc = {
        "audio": audio,
        "duration": round(duration, 3),
        "text": " ".join(s.text for s in segments if s.text),
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "words": [word(w) for w in s.words],
             **({"nbest": [{"text": h.text, "score": round(h.score, 4)} for h in s.nbest]} if len(s.nbest) > 1 else {})}
            for s in segments
        ],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def render(fmt: str, segments: Sequence, audio: str = "", duration: float = 0.0) -> str:
    if fmt == "json":
        return to_json(segments, audio, duration)
    return {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "tsv": to_tsv}[fmt](segments)


def write_outputs(segments: Sequence, audio_path: str, out_dir: str, formats: Sequence[str], duration: float = 0.0) -> list[Path]:
    """Write ``<out_dir>/<audio stem>.<fmt>`` for each format (atomically); returns the paths."""
    paths = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; choose from {FORMATS} or 'all'")
        p = Path(out_dir) / f"{Path(audio_path).stem}.{fmt}"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(render(fmt, segments, str(audio_path), duration), encoding="utf-8")
        os.replace(tmp, p)
        paths.append(p)
    return paths
