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


def test_weights_interpolate_between_checkpoints(tmp_path, capsys):
    a, b = saved(tmp_path, "a.pt", 0), saved(tmp_path, "b.pt", 1)
    sa, sb = AcousticModel.load(a).state_dict(), AcousticModel.load(b).state_dict()
    only_a = average_checkpoints([a, b], [1.0, 0.0]).state_dict()
    assert all(torch.equal(only_a[k], sa[k]) for k in sa)
    mix = average_checkpoints([a, b], [1.0, 3.0]).state_dict()  # normalised to 0.25 / 0.75
    for k in mix:
        torch.testing.assert_close(mix[k], 0.25 * sa[k] + 0.75 * sb[k], atol=1e-6, rtol=0)
    out = tmp_path / "wise.pt"
    assert main(["average", a, b, "--weights", "0.25", "0.75", "-o", str(out)]) == 0
    got = AcousticModel.load(out).state_dict()
    assert all(torch.allclose(got[k], mix[k], atol=1e-6) for k in mix)
    assert "weighted mean (0.25, 0.75)" in capsys.readouterr().out
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match="weights"):
            average_checkpoints([a, b], bad)
