"""Score a model on a manifest: WER, CER, real-time factor and a per-utterance report."""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional

import numpy as np
import torch

from .audio import AudioError, load_audio
from .data.dataset import load_rows
from .data.manifest import segment
from .text import normalize_text
from .train.metrics import error_counts, error_rates
from .transcribe import Recognizer

log = logging.getLogger(__name__)


def _read(rec: Recognizer, row: dict, failed: list[dict]) -> Optional[np.ndarray]:
    """A manifest row's audio at the model rate (a segment row: its span only), or None after
    logging the error and adding it to ``failed``."""
    try:
        return load_audio(row["audio"], rec.sample_rate, *segment(row))
    except AudioError as e:
        log.warning("%s", e)
        failed.append({"id": row.get("id"), "audio": row["audio"], "error": str(e)})
        return None


def evaluate(rec: Recognizer, manifest: str, batch_size: int = 16,
             on_utterance: Optional[Callable[[dict], None]] = None) -> dict:
    """Returns {"wer", "cer" (percent), "rtf", "n", "failed", "utterances": [...]}.

    Utterances are decoded in length-sorted batches (padding never changes a result); an
    unreadable file is reported, counted in ``failed`` and left out of the scores.
    """
    rows = load_rows([manifest])
    rows.sort(key=lambda r: float(r.get("duration") or 0))
    utts, failed, audio_s, compute_s = [], [], 0.0, 0.0
    for s in range(0, len(rows), batch_size):
        group, audios = [], []
        for r in rows[s : s + batch_size]:
            audio = _read(rec, r, failed)
            if audio is not None:
                audios.append(audio)
                group.append(r)
        if not group:
            continue
        t0 = time.perf_counter()
        hyps = rec.transcribe_batch(audios)
        compute_s += time.perf_counter() - t0
        for r, a, h in zip(group, audios, hyps):
            audio_s += len(a) / rec.sample_rate
            ref = normalize_text(r["text"])
            e = error_counts(ref, h.text)
            u = {"id": r.get("id"), "ref": ref, "hyp": h.text,
                 "word_errors": e["word"]["sub"] + e["word"]["del"] + e["word"]["ins"], "words": e["word"]["ref"]}
            utts.append(u)
            if on_utterance:
                on_utterance(u)
    if not utts:
        raise ValueError(f"{manifest}: no utterance could be evaluated ({len(failed)} failed)")
    wer, cer = error_rates([u["ref"] for u in utts], [u["hyp"] for u in utts])
    return {"wer": round(wer, 3), "cer": round(cer, 3), "rtf": round(compute_s / max(audio_s, 1e-9), 5),
            "n": len(utts), "failed": failed, "audio_seconds": round(audio_s, 2), "utterances": utts}


def manifest_log_probs(rec: Recognizer, manifest: str) -> tuple[list[torch.Tensor], list[str], list[dict]]:
    """The model's log-probs and the normalised references of a manifest's utterances, for
    decoding them many times (``asr.decoding.tune``); unreadable files are logged and returned
    in the third list, as ``evaluate``'s ``failed``."""
    lps, refs, failed = [], [], []
    for r in load_rows([manifest]):
        audio = _read(rec, r, failed)
        if audio is not None:
            lps.append(rec.log_probs(audio))
            refs.append(normalize_text(r["text"]))
    if not refs:
        raise ValueError(f"{manifest}: no utterance could be read ({len(failed)} failed)")
    return lps, refs, failed
