"""The bundled English models, and packing a checkpoint for distribution.

Two models ship inside the package (``asr/models/``, trained by ``scripts/train_default_en.sh``):

- ``offline``: ``default_en.pt``, a BiLSTM for files (``asr transcribe``, ``asr evaluate``);
- ``streaming``: ``default_en_stream.pt``, a unidirectional LSTM (``asr stream``, ``asr live``).

A command given no ``--model`` uses the one for its kind. ``pack_checkpoint`` stores a model's
weights as fp16 (half the size; loading casts them back to fp32, the WER is unchanged to the
reported digits: see benchmarks/results/default_model.json).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch

from .model import AcousticModel, atomic_save

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODELS = {"offline": "default_en.pt", "streaming": "default_en_stream.pt"}


def default_model(kind: str = "offline") -> Path:
    """Path of the bundled model of this kind ("offline" or "streaming")."""
    if kind not in DEFAULT_MODELS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(DEFAULT_MODELS)}")
    path = MODELS_DIR / DEFAULT_MODELS[kind]
    if not path.is_file():
        raise FileNotFoundError(f"the bundled {kind} model {path} is missing from this installation; "
                                "reinstall the package or pass --model CHECKPOINT")
    return path


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
