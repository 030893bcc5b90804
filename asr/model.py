"""The acoustic model: normalise -> stack frames -> (Bi)LSTM stack -> Linear -> log-probs.

``forward(feats, feat_lens) -> (log_probs, out_lens)``: padding never changes a result. The
backward direction of each layer runs on the input reversed *within each sequence's length*, so
padding always sits at the end where a causal LSTM cannot let it reach valid frames. (Packed
sequences would do the same, but PyTorch's CPU LSTM backward on packed batches of unequal
lengths is quadratic in time: 3x slower at 5 s utterances.) A unidirectional model also runs chunk by chunk with explicit state:
``state = model.init_state(); out, state = model.step(chunk, state)``.
A checkpoint carries the feature and model configs, the vocabulary and the normalisation stats,
so ``AcousticModel.load(path)`` needs nothing else.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from .config import FeatureConfig, ModelConfig
from .text import Vocabulary, vocabulary_from_dict

CHECKPOINT_VERSION = 1
# A unidirectional model emits a letter a few frames after it hears it, so at the very end of the
# input the last letters are still pending ("eigh" for "eight", FSDD clips stop right after the
# word). Both recognizers (offline and streaming) append this much digital silence to a
# unidirectional model's input; word times are clipped to the real audio. Bundled streaming model:
# FSDD dev WER 5.00 -> 2.92 from 0.06 s on, AN4 dev 12.36 -> 12.17 from 0.1 s on; 0.14 to 0.6 s
# gave the same. The padding is computed like audio (~4% of an AN4 utterance), so no more than needed.
UNIDIRECTIONAL_TAIL_SECONDS = 0.1
LSTMState = tuple[torch.Tensor, ...]  # (h, c), plus the look-ahead frames of a look-ahead model


def tail_silence(model_cfg: ModelConfig, sample_rate: int) -> np.ndarray:
    """The digital silence a model of this shape gets after its input: UNIDIRECTIONAL_TAIL_SECONDS
    for a unidirectional model, none for a bidirectional one."""
    seconds = 0.0 if model_cfg.bidirectional else UNIDIRECTIONAL_TAIL_SECONDS
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def output_lengths(feat_lens: torch.Tensor, stride: int) -> torch.Tensor:
    """Frames after subsampling: ceil(T / stride) (the last partial group is zero-padded)."""
    return torch.div(feat_lens + stride - 1, stride, rounding_mode="floor")


def stack_frames(x: torch.Tensor, stack: int, stride: int) -> torch.Tensor:
    """(batch, T, d) -> (batch, ceil(T/stride), stack*d): frame t' sees frames t'*stride .. +stack-1.

    Missing frames at the end are zeros (the normalised mean).
    """
    b, t, d = x.shape
    n_out = -(-t // stride)
    need = (n_out - 1) * stride + stack
    x = nn.functional.pad(x, (0, 0, 0, need - t))
    return x.unfold(1, stack, stride).transpose(2, 3).reshape(b, n_out, stack * d)


class AcousticModel(nn.Module):
    def __init__(self, feature_cfg: FeatureConfig, model_cfg: ModelConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.feature_cfg, self.cfg, self.vocab = feature_cfg, model_cfg, vocab
        d = feature_cfg.dim
        # Normalisation statistics from the training set (buffers: they travel in state_dict).
        self.register_buffer("feat_mean", torch.zeros(d))
        self.register_buffer("feat_std", torch.ones(d))
        c = model_cfg
        out_dim = c.proj_size or c.hidden
        self.layers = nn.ModuleList()
        in_dim = d * c.stack
        for _ in range(c.layers):
            layer = nn.ModuleDict({"fwd": nn.LSTM(in_dim, c.hidden, batch_first=True, proj_size=c.proj_size)})
            if c.bidirectional:
                layer["bwd"] = nn.LSTM(in_dim, c.hidden, batch_first=True, proj_size=c.proj_size)
            self.layers.append(layer)
            in_dim = out_dim * (2 if c.bidirectional else 1)
        self.dropout = nn.Dropout(c.dropout)
        if c.lookahead:  # per channel, taps for frames t .. t + lookahead; zero: starts as no look-ahead
            self.lookahead = nn.Conv1d(in_dim, in_dim, c.lookahead + 1, groups=in_dim, bias=False)
            nn.init.zeros_(self.lookahead.weight)
        self.output = nn.Linear(in_dim, len(vocab))

    @property
    def tail_padding(self) -> float:
        """Seconds of silence to append to the input's end (see UNIDIRECTIONAL_TAIL_SECONDS)."""
        return len(self.tail_silence()) / self.feature_cfg.sample_rate

    def tail_silence(self) -> np.ndarray:
        """The samples to append at the input's end (model rate; empty for a bidirectional model)."""
        return tail_silence(self.cfg, self.feature_cfg.sample_rate)

    # ------------------------------------------------------------------ offline
    def normalize(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - self.feat_mean) / self.feat_std

    def forward(self, feats: torch.Tensor, feat_lens: torch.Tensor, inter_layer: int = 0):
        """feats: (batch, T, feat_dim) raw features; feat_lens: (batch,) int.

        Returns log_probs: (batch, T', vocab) and out_lens: (batch,), T' = ceil(T / stride).
        Frames past an utterance's length hold meaningless values.
        ``inter_layer=k`` (1 <= k < layers; training's intermediate CTC) also returns, third, the
        log-probs that the shared output layer gives on layer k's output.
        """
        if inter_layer and not 1 <= inter_layer < self.cfg.layers:
            raise ValueError(f"inter_layer must be in [1, {self.cfg.layers - 1}], got {inter_layer}")
        if feats.dim() != 3 or feats.shape[-1] != self.feature_cfg.dim:
            raise ValueError(f"expected feats of shape (batch, time, {self.feature_cfg.dim}), got {tuple(feats.shape)}")
        x = self.normalize(feats)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < feat_lens.to(x.device)[:, None]
        x = x * mask[..., None]  # padding is exactly zero, as in a lone utterance
        x = stack_frames(x, self.cfg.stack, self.cfg.stride)
        out_lens = output_lengths(feat_lens.cpu(), self.cfg.stride).clamp(min=1)
        rev = _reverse_index(out_lens, x.shape[1]).to(x.device) if self.cfg.bidirectional else None
        for i, layer in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            y, _ = layer["fwd"](x)
            if rev is not None:
                yb, _ = layer["bwd"](_gather_time(x, rev))
                y = torch.cat([y, _gather_time(yb, rev)], dim=-1)
            x = y
            if i + 1 == inter_layer:
                inter = self.output(self.dropout(x)).log_softmax(-1)
        if self.cfg.lookahead:  # frames past a sequence's end are zero, as after a lone utterance
            valid = torch.arange(x.shape[1])[None, :] < out_lens[:, None]
            x = self._look_ahead(x * valid[..., None].to(x.device), x.new_zeros(x.shape[0], self.cfg.lookahead, x.shape[2]))
        out = self.output(self.dropout(x)).log_softmax(-1)
        return (out, out_lens, inter) if inter_layer else (out, out_lens)

    def _look_ahead(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """x: (batch, n, d) top-layer frames, future: (batch, lookahead, d) the frames after them.
        Returns (batch, n, d): each frame plus the convolution over it and its next frames."""
        frames = torch.cat([x, future], dim=1)
        taps = self.lookahead.weight[:, 0, :]  # (d, lookahead + 1)
        k = self.cfg.lookahead
        # The taps as k + 1 shifted products, not the Conv1d's forward: streaming steps run without
        # oneDNN, and there the grouped convolution took 1118 us per 120 ms chunk against 27 us
        # (3x384 model, one thread; benchmarks/results/lookahead_taps.json).
        for j in range(k + 1):
            x = x + frames[:, j : frames.shape[1] - k + j] * taps[:, j]
        return x

    # ------------------------------------------------------------------ streaming
    def init_state(self, batch: int = 1) -> LSTMState:
        """(h, c) of the LSTM stack; a look-ahead model adds, third, its last ``lookahead``
        top-layer frames, whose outputs wait for their future (all zeros at the start)."""
        c = self.cfg
        dev = self.feat_mean.device
        h = torch.zeros(c.layers, batch, c.proj_size or c.hidden, device=dev)
        state = (h, torch.zeros(c.layers, batch, c.hidden, device=dev))
        if c.lookahead:
            state += (torch.zeros(batch, c.lookahead, c.proj_size or c.hidden, device=dev),)
        return state

    def step(self, feats: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """One chunk of a stream. feats: (batch, n*stride + stack - stride, feat_dim) raw frames,
        consecutive chunks overlapping by stack - stride frames. Returns (batch, n, vocab) log-probs.

        A look-ahead model's outputs lag its input by ``cfg.lookahead`` frames: a stream's first
        ``lookahead`` outputs (after ``init_state``) are not frames of it and must be dropped, and
        ``flush(state)`` gives the last ones at its end."""
        if self.cfg.bidirectional:
            raise RuntimeError("step() needs a unidirectional model (model.bidirectional: false)")
        c = self.cfg
        x = self.normalize(feats)
        x = x.unfold(1, c.stack, c.stride).transpose(2, 3)
        x = x.reshape(x.shape[0], x.shape[1], -1)  # no Python ints: stays symbolic under torch.export
        h, cell = state[0], state[1]
        weights = self._inference_weights()
        if weights is not None:  # all layers in one ATen call, weights laid out for batch-1 steps
            x, h, cell = torch.lstm(x, (h, cell), weights, True, c.layers, 0.0, False, False, True)
        else:
            hs, cs = [], []
            for i, layer in enumerate(self.layers):
                x, (hi, ci) = layer["fwd"](x, (h[i : i + 1], cell[i : i + 1]))
                hs.append(hi)
                cs.append(ci)
            h, cell = torch.cat(hs), torch.cat(cs)
        if not c.lookahead:
            return self.output(x).log_softmax(-1), (h, cell)
        frames = torch.cat([state[2], x], dim=1)  # the waiting frames, then this chunk's
        n = x.shape[1]
        waiting = frames[:, n:]
        y = self._look_ahead(frames[:, :n], waiting)
        return self.output(y).log_softmax(-1), (h, cell, waiting)

    def flush(self, state: LSTMState) -> torch.Tensor:
        """A look-ahead model's last ``lookahead`` outputs at the end of a stream, their future
        being zeros as in ``forward``: (batch, lookahead, vocab); (batch, 0, vocab) without look-ahead."""
        if not self.cfg.lookahead:
            return state[0].new_zeros(state[0].shape[1], 0, len(self.vocab))
        waiting = state[2]
        return self.output(self._look_ahead(waiting, torch.zeros_like(waiting))).log_softmax(-1)

    def _inference_weights(self) -> Optional[list[torch.Tensor]]:
        """The LSTM stack's weights for ``step`` on CPU: every matrix stored transposed (a
        column-major view of the same shape), which suits the (1 x H) @ W^T products of a
        batch-1 step. With the three layers in one call, benchmarks/streaming.py's fp32 pipeline
        (3x384 model, one thread) went from RTF 0.0212 to 0.0180. None where the plain modules must run:
        training or autograd, int8 (quantized modules), a GPU, or torch.export tracing.
        The copy is remade whenever a weight changes (its version counter or storage)."""
        if self.training or torch.is_grad_enabled() or torch.compiler.is_compiling() or torch.compiler.is_exporting():
            return None
        lstms = [layer["fwd"] for layer in self.layers]
        if any(type(m) is not nn.LSTM for m in lstms) or self.feat_mean.device.type != "cpu":
            return None
        flat = [w for m in lstms for w in m._flat_weights]
        if any(w.dtype != torch.float32 for w in flat):
            return None
        key = tuple((w.data_ptr(), w._version) for w in flat)
        cached = self.__dict__.get("_step_weights")
        if cached is None or cached[0] != key:
            laid = [w.detach().t().contiguous().t() if w.dim() == 2 else w.detach() for w in flat]
            self.__dict__["_step_weights"] = cached = (key, laid)
        return cached[1]

    # ------------------------------------------------------------------ persistence
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feat_mean.copy_(mean)
        self.feat_std.copy_(std.clamp(min=1e-5))

    def checkpoint(self) -> dict:
        """Everything needed to rebuild the model, as plain types and tensors."""
        return {
            "version": CHECKPOINT_VERSION,
            "feature_config": asdict(self.feature_cfg),
            "model_config": asdict(self.cfg),
            "vocab": self.vocab.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }

    def save(self, path: Union[str, os.PathLike]) -> None:
        atomic_save(self.checkpoint(), path)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "AcousticModel":
        """A model checkpoint (``best.pt``, ``asr pack``) or a trainer checkpoint (``last.pt``) -> model."""
        if "model" in ckpt and "state_dict" not in ckpt:  # a trainer checkpoint: the model is inside
            ckpt = ckpt["model"]
        try:
            model = cls(FeatureConfig(**ckpt["feature_config"]), ModelConfig(**ckpt["model_config"]), vocabulary_from_dict(ckpt["vocab"]))
            model.load_state_dict(ckpt["state_dict"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"not an asr model checkpoint (missing or bad field: {e})") from e
        except RuntimeError as e:  # weights that do not fit the stored configs
            raise ValueError(f"checkpoint weights do not match its model config: {e}") from e
        return model.eval()

    @classmethod
    def load(cls, path: Union[str, os.PathLike], map_location: str = "cpu") -> "AcousticModel":
        return cls.from_checkpoint(load_checkpoint(path, map_location))

    def summary(self) -> str:
        """Per-layer parameter table."""
        rows = [(name, tuple(p.shape), p.numel()) for name, p in self.named_parameters()]
        width = max(len(r[0]) for r in rows)
        lines = [f"{'parameter':<{width}}  {'shape':<16} {'count':>10}"]
        lines += [f"{n:<{width}}  {str(s):<16} {c:>10,}" for n, s, c in rows]
        lines.append(f"{'total':<{width}}  {'':<16} {sum(r[2] for r in rows):>10,}")
        return "\n".join(lines)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _reverse_index(lens: torch.Tensor, total: int) -> torch.Tensor:
    """(batch, total) time indices that reverse each sequence within its length, padding in place."""
    t = torch.arange(total)[None, :]
    return torch.where(t < lens[:, None], lens[:, None] - 1 - t, t)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x: (batch, T, d), index: (batch, T) -> x[b, index[b, t]]."""
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


def atomic_save(obj: dict, path: Union[str, os.PathLike]) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename: a kill never leaves half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def load_checkpoint(path: Union[str, os.PathLike], map_location: str = "cpu") -> dict:
    """Load a checkpoint without executing code from it (weights_only=True)."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.pt", "last.pt", "model.pt"):
            if (p / name).is_file():
                p = p / name
                break
    if not p.is_file():
        raise FileNotFoundError(f"{p}: checkpoint not found")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:
        raise ValueError(f"{p}: cannot load checkpoint ({e})") from e
