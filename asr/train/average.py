"""Weight averaging: the last epochs of one run, or runs that share a starting point.

The mean of the weights of several checkpoints of the *same* network is a cheap ensemble that
runs at the cost of one model. It works when the checkpoints lie in one basin: consecutive epochs
of a run (the trainer's ``train.average_last``), or runs fine-tuned from the same weights with
different seeds (a "model soup", Wortsman et al. 2022). Averaging unrelated runs (different
random initialisations) gives a broken model; check the result's dev WER.

Unequal weights interpolate: ``average_checkpoints([general, specialist], [0.5, 0.5])`` with a
specialist fine-tuned from the general model keeps much of the general model's breadth while
gaining on the specialist's data ("WiSE-FT", Wortsman et al. 2022); choose the weight on dev.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import torch

from ..model import AcousticModel, load_checkpoint


def average_state_dicts(states: Sequence[dict], weights: Optional[Sequence[float]] = None) -> dict:
    """Element-wise mean (in float64, cast back to each tensor's dtype) of state dicts with equal
    keys; with ``weights`` (non-negative, normalised to sum to 1), the weighted mean."""
    if not states:
        raise ValueError("nothing to average")
    keys = set(states[0])
    for s in states[1:]:
        if set(s) != keys:
            raise ValueError(f"state dicts differ in their keys: {sorted(keys ^ set(s))[:5]}")
    w = _normalised(weights, len(states))
    return {k: sum(wi * s[k].double() for wi, s in zip(w, states)).to(states[0][k].dtype) for k in states[0]}


def _normalised(weights: Optional[Sequence[float]], n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} checkpoints")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    return [w / sum(weights) for w in weights]


def average_checkpoints(paths: Sequence[Union[str, os.PathLike]],
                        weights: Optional[Sequence[float]] = None) -> AcousticModel:
    """One model whose weights (and feature statistics) are the mean of the checkpoints', or their
    weighted mean. They must share the feature config, the model config (dropout aside) and the
    vocabulary."""
    _normalised(weights, len(paths))  # fail before loading anything
    models = [AcousticModel.from_checkpoint(load_checkpoint(p)) for p in paths]
    first = models[0]
    for p, m in zip(paths[1:], models[1:]):
        checks = [("features", first.feature_cfg, m.feature_cfg), ("vocabulary", first.vocab.to_dict(), m.vocab.to_dict()),
                  ("model", _shape(first), _shape(m))]
        for what, a, b in checks:
            if a != b:
                raise ValueError(f"{p}: its {what} differs from {paths[0]}'s ({b} vs {a}); only the same network can be averaged")
    first.load_state_dict(average_state_dicts([m.state_dict() for m in models], weights))
    return first.eval()


def _shape(model: AcousticModel) -> dict:
    cfg = dict(vars(model.cfg))
    cfg.pop("dropout", None)
    return cfg
