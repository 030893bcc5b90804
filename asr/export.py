"""Speed options for the streaming model: int8 dynamic quantization and export.

- ``quantize_int8(model)`` replaces every LSTM and Linear with int8 dynamic-quantized versions.
  ``quantize_dynamic`` must be given the *parent* module: handed a bare ``nn.LSTM`` it returns it
  unchanged, silently. The result is checked, so a silent no-op is an error here.
- ``export_streaming(model, path)`` writes a ``torch.export`` program of one streaming step,
  ``(feats, h, c) -> (log_probs, h, c)``, with the LSTM state as explicit inputs and outputs,
  for a fixed chunk (export unrolls the LSTM over time). A look-ahead model (``model.lookahead``)
  has a third state tensor, its waiting frames: ``(feats, h, c, w) -> (log_probs, h, c, w)``,
  its outputs lagging by ``lookahead`` frames (``AcousticModel.step``). ``load_exported(path)`` runs it with
  torch alone; the configs and vocabulary travel in the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Union

import torch
from torch import nn

from .model import AcousticModel


def quantize_int8(model: AcousticModel) -> AcousticModel:
    """A copy of ``model`` with int8 dynamic-quantized LSTMs and Linears (CPU inference)."""
    import copy
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's migration notices
        q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.LSTM, nn.Linear}, dtype=torch.qint8)
    left = [name for name, m in q.named_modules() if type(m) in (nn.LSTM, nn.Linear)]
    if left:
        raise RuntimeError(f"int8 quantization left float modules: {left}")
    return q


class _Step(nn.Module):
    def __init__(self, model: AcousticModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor, h: torch.Tensor, c: torch.Tensor, *waiting: torch.Tensor):
        y, state = self.model.step(feats, (h, c, *waiting))
        return (y, *state)


def export_streaming(model: AcousticModel, path: Union[str, os.PathLike], chunk_frames: int = 16) -> Path:
    """Export one streaming step for chunks of ``chunk_frames`` output frames.

    Input feats: (1, chunk_frames * stride + stack - stride, feat_dim) raw features; consecutive
    chunks overlap by stack - stride frames (as ``AcousticModel.step``).
    """
    if model.cfg.bidirectional:
        raise ValueError("only a unidirectional model can be exported for streaming")
    model = model.eval()
    c = model.cfg
    frames = chunk_frames * c.stride + c.stack - c.stride
    example = (torch.zeros(1, frames, model.feature_cfg.dim), *model.init_state())
    program = torch.export.export(_Step(model), example)
    meta = {**{k: v for k, v in model.checkpoint().items() if k != "state_dict"}, "chunk_frames": chunk_frames, "input_frames": frames}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(p), extra_files={"asr.json": json.dumps(meta)})
    return p


def load_exported(path: Union[str, os.PathLike]) -> tuple[nn.Module, dict]:
    """(step module, metadata): ``log_probs, h, c = step(feats, h, c)``; needs only torch."""
    extra = {"asr.json": ""}
    program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra["asr.json"])
