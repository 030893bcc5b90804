"""Weight averaging: the last epochs of one run, or runs that share a starting point.

The mean of the weights of several checkpoints of the *same* network is a cheap ensemble that
runs at the cost of one model. It works when the checkpoints lie in one basin: consecutive epochs
of a run (the trainer's ``train.average_last``), or runs fine-tuned from the same weights with
different seeds (a "model soup", Wortsman et al. 2022). Averaging unrelated runs (different
random initialisations) gives a broken model; check the result's dev WER.
"""
from __future__ import annotations

import os
from typing import Sequence, Union

import torch

from ..model import AcousticModel, load_checkpoint


def average_state_dicts(states: Sequence[dict]) -> dict:
    """Element-wise mean (in float64, cast back to each tensor's dtype) of state dicts with equal keys."""
    if not states:
        raise ValueError("nothing to average")
    keys = set(states[0])
    for s in states[1:]:
        if set(s) != keys:
            raise ValueError(f"state dicts differ in their keys: {sorted(keys ^ set(s))[:5]}")
    return {k: sum(s[k].double() for s in states).div(len(states)).to(states[0][k].dtype) for k in states[0]}


def average_checkpoints(paths: Sequence[Union[str, os.PathLike]]) -> AcousticModel:
    """One model whose weights (and feature statistics) are the mean of the checkpoints'. They must
    share the feature config, the model config (dropout aside) and the vocabulary."""
    models = [AcousticModel.from_checkpoint(load_checkpoint(p)) for p in paths]
    first = models[0]
    for p, m in zip(paths[1:], models[1:]):
        checks = [("features", first.feature_cfg, m.feature_cfg), ("vocabulary", first.vocab.to_dict(), m.vocab.to_dict()),
                  ("model", _shape(first), _shape(m))]
        for what, a, b in checks:
            if a != b:
                raise ValueError(f"{p}: its {what} differs from {paths[0]}'s ({b} vs {a}); only the same network can be averaged")
    first.load_state_dict(average_state_dicts([m.state_dict() for m in models]))
    return first.eval()


def _shape(model: AcousticModel) -> dict:
    cfg = dict(vars(model.cfg))
    cfg.pop("dropout", None)
    return cfg
