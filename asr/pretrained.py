"""The bundled English models, and packing a checkpoint for distribution.

Two models ship inside the package (``asr/models/``, trained by ``scripts/train_default_en.sh``):

- ``offline``: ``default_en.pt``, a BiLSTM for files (``asr transcribe``, ``asr evaluate``);
- ``streaming``: ``default_en_stream.pt``, a unidirectional LSTM (``asr stream``, ``asr live``).

A command given no ``--model`` uses the one for its kind. A word 3-gram of the same corpora's
training transcripts ships beside them (``default_en_3gram.arpa``, 6.4k words): ``--lm bundled``
decodes with it, at the LM weight and word score tuned for each bundled model on dev.

``pack_checkpoint`` stores a model's weights as fp16 (half the size; loading casts them back to
fp32, the WER is unchanged to the reported digits: see benchmarks/results/default_model.json).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch

from .model import AcousticModel, atomic_save

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODELS = {"offline": "default_en.pt", "streaming": "default_en_stream.pt"}
BUNDLED_LM = "bundled"  # what --lm takes for the bundled LM
DEFAULT_LM = "default_en_3gram.arpa"  # asr lm build on AN4, FSDD, Libri-light, speechocean762 train (scripts/train_default_en.sh)
# (lm_weight, word_score) for the bundled LM with each bundled model: chosen on the combined dev
# set by benchmarks/default_model.py (results/default_model.json: bundled_lm_weights_agree).
DEFAULT_LM_WEIGHTS = {"offline": (0.5, 0.0), "streaming": (1.0, 0.0)}


def default_model(kind: str = "offline") -> Path:
    """Path of the bundled model of this kind ("offline" or "streaming")."""
    if kind not in DEFAULT_MODELS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(DEFAULT_MODELS)}")
    path = MODELS_DIR / DEFAULT_MODELS[kind]
    if not path.is_file():
        raise FileNotFoundError(f"the bundled {kind} model {path} is missing from this installation; "
                                "reinstall the package or pass --model CHECKPOINT")
    return path


def default_lm() -> Path:
    """Path of the bundled word 3-gram LM (ARPA)."""
    path = MODELS_DIR / DEFAULT_LM
    if not path.is_file():
        raise FileNotFoundError(f"the bundled language model {path} is missing from this installation; "
                                "reinstall the package or pass --lm LM.arpa")
    return path


def resolve_lm(lm: Optional[str]) -> Optional[str]:
    """``lm`` as given, the bundled LM's path for ``"bundled"``, None for None."""
    return str(default_lm()) if lm == BUNDLED_LM else lm


def lm_settings(lm: Optional[str], lm_weight: Optional[float], word_score: Optional[float],
                kind: str = "offline") -> tuple[Optional[str], float, float]:
    """(LM path, weight, word score) for what a user asked: the bundled LM's tuned weight and score
    for the ``kind`` of model unless given; otherwise weight 0.5 and score 0 unless given."""
    tuned = DEFAULT_LM_WEIGHTS[kind] if lm == BUNDLED_LM else (0.5, 0.0)
    return (resolve_lm(lm), tuned[0] if lm_weight is None else lm_weight,
            tuned[1] if word_score is None else word_score)


def resolve_model(path: Optional[Union[str, os.PathLike]], kind: str = "offline") -> Path:
    """``path`` as given, or the bundled model of ``kind`` when it is None."""
    return Path(path) if path is not None else default_model(kind)


def pack_checkpoint(src: Union[str, os.PathLike], dst: Union[str, os.PathLike], dtype: str = "fp16") -> Path:
    """Write ``src``'s model (a checkpoint file or training folder) with only what inference needs.

    ``dtype="fp16"`` stores floating-point weights in half precision (the feature statistics stay
    fp32); ``"fp32"`` keeps them. Optimizer state and training history are dropped.
    """
    if dtype not in ("fp16", "fp32"):
        raise ValueError(f"dtype must be fp16 or fp32, got {dtype!r}")
    model = AcousticModel.load(src)
    ckpt = model.checkpoint()
    if dtype == "fp16":
        ckpt["state_dict"] = {k: v.half() if v.is_floating_point() and not k.startswith("feat_") else v
                              for k, v in ckpt["state_dict"].items()}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(ckpt, dst)
    return dst
