"""int8 quantization really replaces the LSTMs; the exported streaming step matches the eager
model chunk for chunk and runs from the file alone."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from asr.config import FeatureConfig, ModelConfig
from asr.export import export_streaming, load_exported, quantize_int8
from asr.model import AcousticModel
from asr.text import Vocabulary

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning", "ignore::FutureWarning")


def _uni(stack=3, stride=2, lookahead=0) -> AcousticModel:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=32, layers=2, bidirectional=False, stack=stack, stride=stride, lookahead=lookahead)
    m = AcousticModel(FeatureConfig(), cfg, Vocabulary()).eval()
    if lookahead:  # it starts at zero
        with torch.no_grad():
            m.lookahead.weight.normal_()
    return m


def test_bare_lstm_is_not_quantized_by_torch_but_ours_is():
    bare = nn.LSTM(8, 8)
    # The trap the design notes: quantize_dynamic on a bare LSTM returns it unchanged.
    assert type(torch.ao.quantization.quantize_dynamic(bare, {nn.LSTM}, dtype=torch.qint8)) is nn.LSTM
    q = quantize_int8(_uni())
    kinds = {type(m) for m in q.modules()}
    assert nn.LSTM not in kinds and nn.Linear not in kinds
    assert type(q.layers[0]["fwd"]).__module__.startswith("torch.ao.nn.quantized.dynamic")


def test_int8_stays_close_to_fp32():
    m = _uni()
    q = quantize_int8(m)
    x = torch.randn(1, 65, 80)
    a, _ = m.step(x, m.init_state())
    b, _ = q.step(x, q.init_state())
    assert (a.exp() - b.exp()).abs().max() < 0.05  # probabilities move little


@pytest.mark.parametrize("stack,stride", [(3, 3), (3, 2)])
def test_exported_step_matches_eager_chunk_for_chunk(tmp_path, stack, stride):
    m = _uni(stack, stride)
    path = export_streaming(m, tmp_path / "step.pt2", chunk_frames=8)
    step, meta = load_exported(path)
    n = meta["input_frames"]
    assert n == 8 * stride + stack - stride and meta["model_config"]["stride"] == stride
    x = torch.randn(1, 40 * n, 80)
    st = m.init_state()
    h, c = m.init_state()
    for s in range(0, x.shape[1] - n, 8 * stride):
        chunk = x[:, s : s + n]
        a, st = m.step(chunk, st)
        b, h, c = step(chunk, h, c)
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(st[0], h, atol=1e-5) and torch.allclose(st[1], c, atol=1e-5)


def test_exported_file_runs_without_the_package(tmp_path):
    path = export_streaming(_uni(), tmp_path / "step.pt2", chunk_frames=4)
    code = ("import sys, json, torch; sys.modules['asr'] = None\n"  # importing asr would fail
            f"extra = {{'asr.json': ''}}; step = torch.export.load({str(path)!r}, extra_files=extra).module()\n"
            "meta = json.loads(extra['asr.json']); L, H = meta['model_config']['layers'], meta['model_config']['hidden']\n"
            "y, h, c = step(torch.zeros(1, meta['input_frames'], 80), torch.zeros(L, 1, H), torch.zeros(L, 1, H))\n"
            "print(tuple(y.shape))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1, 4, 29)"


def test_bidirectional_export_is_refused(tmp_path):
    m = AcousticModel(FeatureConfig(), ModelConfig(hidden=8, layers=1), Vocabulary())
    with pytest.raises(ValueError, match="unidirectional"):
        export_streaming(m, tmp_path / "x.pt2")


def test_look_ahead_model_exports_its_waiting_frames_as_state(tmp_path):
    m = _uni(lookahead=2)
    step, meta = load_exported(export_streaming(m, tmp_path / "la.pt2", chunk_frames=6))
    assert meta["model_config"]["lookahead"] == 2
    n = meta["input_frames"]
    x = torch.randn(1, 20 * n, 80)
    st, ex = m.init_state(), m.init_state()
    for s in range(0, x.shape[1] - n, 12):
        a, st = m.step(x[:, s : s + n], st)
        b, *ex = step(x[:, s : s + n], *ex)
        assert torch.allclose(a, b, atol=1e-5)
    assert len(ex) == 3 and all(torch.allclose(u, v, atol=1e-5) for u, v in zip(st, ex))
    q = quantize_int8(m)  # the look-ahead stays fp32 beside the int8 LSTMs and output
    a, _ = m.step(x[:, :n], m.init_state())
    b, _ = q.step(x[:, :n], q.init_state())
    assert (a.exp() - b.exp()).abs().max() < 0.05
