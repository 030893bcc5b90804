"""JSONL manifests: one utterance per line.

Keys: ``audio`` (path; relative paths are relative to the manifest's folder), ``text``,
``duration`` (seconds), ``speaker``, ``id``. NeMo manifests (``audio_filepath``) are read too.

A row may also be a segment of a longer recording (TED-LIUM talks): ``offset`` (seconds from the
start of the file) marks it, and then ``duration`` is the segment's length, not the file's:

    {"audio": "talk.sph", "offset": 17.82, "duration": 10.99, "text": "...", ...}

Rows without ``offset`` are whole files. :func:`segment` gives what to pass to ``load_audio``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional, Union

PathLike = Union[str, os.PathLike]


def read_manifest(path: PathLike) -> list[dict]:
    """Read a manifest; audio paths come back absolute. Raises ValueError naming the bad line."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: manifest not found")
    base = p.resolve().parent
    rows = []
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}:{n}: not valid JSON ({e.msg})") from e
            audio = row.get("audio", row.get("audio_filepath"))
            if audio is None:
                raise ValueError(f"{p}:{n}: no 'audio' or 'audio_filepath' key (keys: {sorted(row)})")
            row["audio"] = str(base / audio) if not os.path.isabs(audio) else audio
            row.pop("audio_filepath", None)
            row["text"] = row.get("text", "")
            row.setdefault("id", Path(audio).stem)
            row.setdefault("speaker", "")
            if "offset" in row:
                try:
                    segment(row)
                except ValueError as e:
                    raise ValueError(f"{p}:{n}: {e}") from e
            rows.append(row)
    return rows


def segment(row: dict) -> tuple[float, Optional[float]]:
    """(offset, duration) seconds of the row's audio: (0.0, None) for a whole file.

    Raises ValueError for a negative or non-numeric offset, or an offset row without a positive
    duration.
    """
    if "offset" not in row:
        return 0.0, None
    try:
        offset, duration = float(row["offset"]), float(row.get("duration") or 0)
    except (TypeError, ValueError) as e:
        raise ValueError(f"offset and duration must be numbers, got offset={row['offset']!r}, "
                         f"duration={row.get('duration')!r}") from e
    if not offset >= 0 or not duration > 0:  # also rejects NaN
        raise ValueError(f"a segment needs offset >= 0 and duration > 0 (seconds), got offset={offset}, "
                         f"duration={duration}")
    return offset, duration


def write_manifest(path: PathLike, rows: Iterable[dict]) -> int:
    """Write rows as JSONL (atomically: a temp file renamed into place). Returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, p)
    except BaseException:  # a bad row (or Ctrl-C) leaves the old manifest as it was, and no .tmp
        tmp.unlink(missing_ok=True)
        raise
    return n
