"""Weight averaging: the mean of checkpoints of one network, refused for different networks."""
from __future__ import annotations

import pytest
import torch

from asr.cli import main
from asr.config import FeatureConfig, ModelConfig
from asr.model import AcousticModel
from asr.text import Vocabulary
from asr.train.average import average_checkpoints, average_state_dicts

FEATS = FeatureConfig(n_mels=8)
VOCAB = Vocabulary("abc ")


def saved(tmp_path, name: str, seed: int, **model) -> str:
    torch.manual_seed(seed)
    m = AcousticModel(FEATS, ModelConfig(**{"hidden": 8, "layers": 2, "bidirectional": False, **model}), VOCAB)
    path = str(tmp_path / name)
    m.save(path)
    return path


def test_the_average_is_the_mean_of_every_weight(tmp_path):
    paths = [saved(tmp_path, f"{i}.pt", seed=i) for i in range(3)]
    states = [AcousticModel.load(p).state_dict() for p in paths]
    avg = average_checkpoints(paths).state_dict()
    for k in avg:
        torch.testing.assert_close(avg[k], (states[0][k] + states[1][k] + states[2][k]) / 3, atol=1e-6, rtol=0)
    assert not torch.equal(avg["output.weight"], states[0]["output.weight"])


def test_dropout_may_differ_but_the_network_may_not(tmp_path):
    a = saved(tmp_path, "a.pt", 0, dropout=0.1)
    average_checkpoints([a, saved(tmp_path, "b.pt", 1, dropout=0.3)])
    with pytest.raises(ValueError, match="model differs"):
        average_checkpoints([a, saved(tmp_path, "c.pt", 1, hidden=16)])
    with pytest.raises(ValueError, match="differ in their keys"):
        average_state_dicts([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


def test_cli_writes_a_loadable_average(tmp_path, capsys):
    paths = [saved(tmp_path, f"{i}.pt", seed=i) for i in range(2)]
    out = tmp_path / "soup.pt"
    assert main(["average", *paths, "-o", str(out)]) == 0
    expect = average_checkpoints(paths).state_dict()
    got = AcousticModel.load(out).state_dict()
    assert all(torch.equal(got[k], expect[k]) for k in expect)
    assert main(["average", paths[0], saved(tmp_path, "x.pt", 2, layers=3), "-o", str(tmp_path / "bad.pt")]) != 0
    assert "only the same network" in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()
