"""Acoustic model: length arithmetic, padding invariance, streaming == offline, safe checkpoints, overfitting."""
from __future__ import annotations

import math
import re

import pytest
import torch

from asr.config import FeatureConfig, ModelConfig
from asr.decoding.greedy import greedy_batch
from asr.model import AcousticModel, atomic_save, load_checkpoint, output_lengths, stack_frames
from asr.text import Vocabulary

FEATS = FeatureConfig(n_mels=8)
VOCAB = Vocabulary("abc ")

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported:UserWarning")



def tiny(seed: int = 0, feats: FeatureConfig = FEATS, vocab: Vocabulary = VOCAB, **model) -> AcousticModel:
    """A small eval-mode model with non-trivial normalisation stats."""
    torch.manual_seed(seed)
    cfg = ModelConfig(**{"stack": 3, "stride": 3, "hidden": 16, "layers": 2, "dropout": 0.0, **model})
    m = AcousticModel(feats, cfg, vocab)
    g = torch.Generator().manual_seed(seed + 100)
    m.set_normalization(torch.randn(feats.dim, generator=g), torch.rand(feats.dim, generator=g) + 0.5)
    if cfg.lookahead:  # it starts at zero; tests need one that does something
        with torch.no_grad():
            m.lookahead.weight.copy_(torch.randn(m.lookahead.weight.shape, generator=g))
    return m.eval()


def feats(t: int, seed: int = 0, dim: int = FEATS.dim) -> torch.Tensor:
    return torch.randn(t, dim, generator=torch.Generator().manual_seed(seed)) * 2 + 1


def pad_batch(items: list[torch.Tensor], fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([x.shape[0] for x in items])
    out = torch.full((len(items), int(lens.max()), items[0].shape[1]), fill)
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
    return out, lens


# ---------------------------------------------------------------- lengths
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_output_lengths_is_ceil(stride):
    lens = torch.arange(0, 50)
    expected = torch.tensor([math.ceil(t / stride) for t in range(50)])
    assert torch.equal(output_lengths(lens, stride), expected)


@pytest.mark.parametrize("stack,stride", [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (5, 2), (4, 4), (6, 4)])
def test_forward_shape_matches_output_lengths(stack, stride):
    m = tiny(stack=stack, stride=stride, layers=1, hidden=8)
    lengths = [1, 2, stride, stride + 1, stack, 2 * stride - 1, 17, 23]
    with torch.no_grad():
        for t in lengths:
            lp, out_lens = m(feats(t)[None], torch.tensor([t]))
            assert lp.shape == (1, int(output_lengths(torch.tensor([t]), stride)), len(VOCAB))
            assert out_lens.tolist() == [lp.shape[1]]
        x, lens = pad_batch([feats(t, seed=t) for t in lengths])
        lp, out_lens = m(x, lens)
    assert torch.equal(out_lens, output_lengths(lens, stride))
    assert lp.shape[1] == int(out_lens.max())


def test_stack_frames_layout():
    x = torch.arange(1, 8, dtype=torch.float32).reshape(1, 7, 1)  # frames 1..7
    y = stack_frames(x, stack=3, stride=2)
    # ceil(7/2) = 4 outputs, each sees frames t*2 .. t*2+2; the missing tail is zeros.
    assert y.squeeze(0).tolist() == [[1, 2, 3], [3, 4, 5], [5, 6, 7], [7, 0, 0]]


def test_forward_rejects_bad_shapes():
    m = tiny()
    with pytest.raises(ValueError, match=r"\(5, 8\)"):
        m(torch.zeros(5, 8), torch.tensor([5]))
    with pytest.raises(ValueError, match=r"\(1, 5, 7\)"):
        m(torch.zeros(1, 5, 7), torch.tensor([5]))


# ---------------------------------------------------------------- batching
@pytest.mark.parametrize("model_cfg", [
    {"bidirectional": True},
    {"bidirectional": False},
    {"bidirectional": True, "proj_size": 6},
    {"bidirectional": False, "proj_size": 6, "stack": 4, "stride": 2},
    {"bidirectional": False, "lookahead": 3},
], ids=["bi", "uni", "bi-proj", "uni-proj-overlap", "uni-lookahead"])
def test_padded_batch_equals_one_by_one(model_cfg):
    m = tiny(**model_cfg)
    items = [feats(t, seed=t) for t in (17, 5, 31, 1, 12, 30)]
    # Garbage in the padding must not leak into any result.
    x, lens = pad_batch(items, fill=1e3)
    with torch.no_grad():
        lp, out_lens = m(x, lens)
        for i, f in enumerate(items):
            one, one_len = m(f[None], torch.tensor([f.shape[0]]))
            assert int(out_lens[i]) == int(one_len[0]) == one.shape[1]
            torch.testing.assert_close(lp[i, : int(out_lens[i])], one[0], atol=1e-5, rtol=0)


def test_inter_layer_reads_layer_k_through_the_shared_output():
    """Intermediate CTC's log-probs are the output layer applied to layer k's output, and asking
    for them changes nothing in the final log-probs."""
    m = tiny(layers=3)
    x, lens = feats(20)[None], torch.tensor([20])
    with torch.no_grad():
        lp, _ = m(x, lens)
        lp2, _, inter = m(x, lens, inter_layer=1)
        torch.testing.assert_close(lp2, lp, atol=0, rtol=0)
        trunc = tiny(layers=1)
        trunc.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith(("layers.1.", "layers.2."))})
        torch.testing.assert_close(inter, trunc(x, lens)[0], atol=1e-6, rtol=0)
    for bad in (3, -1):
        with pytest.raises(ValueError, match="inter_layer"):
            m(x, lens, inter_layer=bad)


def test_log_probs_are_normalised():
    m = tiny()
    with torch.no_grad():
        lp, _ = m(feats(40)[None], torch.tensor([40]))
    assert (lp <= 0).all()
    torch.testing.assert_close(lp.logsumexp(-1), torch.zeros(lp.shape[:2]), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- streaming
@pytest.mark.parametrize("stack,stride", [(3, 3), (1, 1), (5, 2), (4, 3)])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_step_matches_forward(stack, stride, k):
    """Chunks of k*stride new frames (plus stack-stride frames of overlap) give the offline log-probs."""
    m = tiny(bidirectional=False, stack=stack, stride=stride, proj_size=0 if stack != 4 else 5)
    t = 53
    x = feats(t, seed=9)
    with torch.no_grad():
        offline, out_lens = m(x[None], torch.tensor([t]))
    n_out = int(out_lens[0])
    # Offline the tail is zero after normalisation, i.e. the feature mean in raw units.
    need = (n_out - 1) * stride + stack
    raw = torch.cat([x, m.feat_mean.expand(need - t, -1)])
    state = m.init_state()
    pieces = []
    with torch.no_grad():
        for first in range(0, n_out, k):
            n = min(k, n_out - first)
            chunk = raw[first * stride : first * stride + n * stride + stack - stride]
            out, state = m.step(chunk[None], state)
            assert out.shape == (1, n, len(VOCAB))
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), offline, atol=1e-4, rtol=0)


@pytest.mark.parametrize("lookahead", [1, 2, 5])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_look_ahead_step_lags_and_flush_ends_like_forward(lookahead, k):
    """A look-ahead model's chunks give the offline log-probs ``lookahead`` frames late; the
    first ``lookahead`` outputs are dropped and ``flush`` gives the last ones."""
    m = tiny(bidirectional=False, stack=3, stride=2, lookahead=lookahead)
    t = 41
    x = feats(t, seed=3)
    with torch.no_grad():
        offline, out_lens = m(x[None], torch.tensor([t]))
        n_out = int(out_lens[0])
        raw = torch.cat([x, m.feat_mean.expand((n_out - 1) * 2 + 3 - t, -1)])
        state = m.init_state()
        assert state[2].shape == (1, lookahead, 16)
        pieces = []
        for first in range(0, n_out, k):
            n = min(k, n_out - first)
            out, state = m.step(raw[first * 2 : first * 2 + n * 2 + 1][None], state)
            assert out.shape[1] == n
            pieces.append(out)
        pieces.append(m.flush(state))
    streamed = torch.cat(pieces, dim=1)[:, lookahead:]
    torch.testing.assert_close(streamed, offline, atol=1e-4, rtol=0)
    # The look-ahead is used: with its taps at zero the frames differ.
    with torch.no_grad():
        m.lookahead.weight.zero_()
        assert not torch.allclose(m(x[None], torch.tensor([t]))[0], offline, atol=1e-3)


def test_look_ahead_is_the_convolution_it_stores():
    """The taps run as shifted products (fast without oneDNN); they are the Conv1d's own result."""
    m = tiny(bidirectional=False, lookahead=3)
    x, future = torch.randn(2, 7, 16), torch.randn(2, 3, 16)
    with torch.no_grad():
        conv = x + m.lookahead(torch.cat([x, future], dim=1).transpose(1, 2)).transpose(1, 2)
        torch.testing.assert_close(m._look_ahead(x, future), conv, atol=1e-6, rtol=0)


def test_look_ahead_needs_a_unidirectional_model():
    with pytest.raises(ValueError, match="lookahead"):
        ModelConfig(bidirectional=True, lookahead=2)
    with pytest.raises(ValueError, match="lookahead"):
        ModelConfig(bidirectional=False, lookahead=-1)


@pytest.mark.parametrize("proj_size", [0, 5])
def test_inference_step_matches_the_modules(proj_size):
    """Without autograd, step() runs the whole stack in one call on transposed weights; it gives
    the per-layer modules' result, and follows a weight change instead of serving stale weights."""
    m = tiny(bidirectional=False, layers=3, proj_size=proj_size)
    x, state = feats(20, seed=4)[None], m.init_state()
    with torch.no_grad():
        assert m._inference_weights() is not None
    with torch.enable_grad():  # the modules' path
        ref, (h, c) = m.step(x, state)
    with torch.inference_mode():
        out, (h2, c2) = m.step(x, state)
    for a, b in ((out, ref), (h2, h), (c2, c)):
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=0)
    with torch.no_grad():
        m.layers[0]["fwd"].weight_ih_l0.mul_(3.0)
        changed, _ = m.step(x, state)
    with torch.enable_grad():
        ref2, _ = m.step(x, state)
    assert not torch.allclose(changed, out, atol=1e-4)
    torch.testing.assert_close(changed, ref2.detach(), atol=1e-5, rtol=0)
    m.train()
    with torch.no_grad():
        assert m._inference_weights() is None


def test_step_batch_state_shapes():
    m = tiny(bidirectional=False, proj_size=5, hidden=12, layers=2)
    h, c = m.init_state(batch=4)
    assert h.shape == (2, 4, 5) and c.shape == (2, 4, 12)
    out, (h2, c2) = m.step(torch.randn(4, 9, FEATS.dim), (h, c))
    assert out.shape == (4, 3, len(VOCAB)) and h2.shape == h.shape and c2.shape == c.shape


def test_step_on_bidirectional_model_raises():
    m = tiny(bidirectional=True)
    with pytest.raises(RuntimeError, match="unidirectional"):
        m.step(torch.zeros(1, 3, FEATS.dim), m.init_state())


# ---------------------------------------------------------------- persistence
def test_save_load_round_trip(tmp_path):
    m = tiny(seed=3, bidirectional=True, proj_size=4)
    path = tmp_path / "model.pt"
    m.save(path)
    loaded = AcousticModel.load(path)
    assert not loaded.training
    assert loaded.cfg == m.cfg and loaded.feature_cfg == m.feature_cfg and loaded.vocab.chars == m.vocab.chars
    assert torch.equal(loaded.feat_mean, m.feat_mean) and torch.equal(loaded.feat_std, m.feat_std)
    assert not torch.equal(loaded.feat_mean, torch.zeros_like(loaded.feat_mean))
    x, lens = pad_batch([feats(20, seed=1), feats(11, seed=2)])
    with torch.no_grad():
        a, al = m(x, lens)
        b, bl = loaded(x, lens)
    assert torch.equal(a, b) and torch.equal(al, bl)


CALLS: list = []


def _record(what: str) -> str:
    CALLS.append(what)
    return what


class Payload:
    """Unpickling this would run code: ``_record("executed")``."""

    def __reduce__(self):
        return (_record, ("executed",))


def test_payload_runs_code_when_unpickled_unsafely(tmp_path):
    """The control for the test below: without weights_only the payload does execute."""
    path = tmp_path / "evil.pt"
    torch.save({"extra": Payload()}, path)
    CALLS.clear()
    assert torch.load(path, weights_only=False)["extra"] == "executed"
    assert CALLS == ["executed"]
    CALLS.clear()


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    ckpt = tiny().checkpoint()
    ckpt["extra"] = Payload()
    torch.save(ckpt, path)
    CALLS.clear()
    with pytest.raises(ValueError, match=re.escape(str(path))):
        AcousticModel.load(path)
    assert CALLS == []


def test_load_checkpoint_prefers_best_in_a_directory(tmp_path):
    best, last = tiny(seed=1), tiny(seed=2)
    last.save(tmp_path / "last.pt")
    assert torch.equal(AcousticModel.load(tmp_path).output.weight, last.output.weight)
    best.save(tmp_path / "best.pt")
    ckpt = load_checkpoint(tmp_path)
    assert torch.equal(ckpt["state_dict"]["output.weight"], best.output.weight)
    assert torch.equal(AcousticModel.load(tmp_path).output.weight, best.output.weight)


def test_load_accepts_a_trainer_checkpoint(tmp_path):
    """A run folder with only last.pt (a killed run) loads like a model checkpoint."""
    m = tiny(seed=4)
    torch.save({"model": m.checkpoint(), "epoch": 1, "step": 10, "optimizer": {}}, tmp_path / "last.pt")
    assert torch.equal(AcousticModel.load(tmp_path).output.weight, m.output.weight)


def test_missing_checkpoint_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        AcousticModel.load(tmp_path)  # a folder with no checkpoint in it


def test_corrupt_checkpoint_raises_value_error(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(ValueError, match="corrupt.pt"):
        AcousticModel.load(path)


def test_checkpoint_without_model_fields_raises_value_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="checkpoint"):
        AcousticModel.load(path)


def test_atomic_save_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "ckpt.pt"
    atomic_save({"a": torch.ones(3)}, target)
    atomic_save({"a": torch.zeros(3)}, target)  # overwriting works too
    assert [p.name for p in target.parent.iterdir()] == ["ckpt.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.zeros(3))


def test_summary_lists_every_parameter():
    m = tiny(proj_size=4)
    text = m.summary()
    for name, _ in m.named_parameters():
        assert re.search(rf"^{re.escape(name)}\s", text, re.M), name
    total = re.search(r"^total\s+([\d,]+)\s*$", text, re.M)
    assert total and int(total.group(1).replace(",", "")) == m.num_params()
    assert m.num_params() == sum(p.numel() for p in m.parameters()) > 0


# ---------------------------------------------------------------- learning
def test_tiny_model_overfits_three_utterances():
    torch.manual_seed(0)
    vocab = Vocabulary("abcd ")
    targets = ["ab", "cad b", "dda"]
    m = AcousticModel(FEATS, ModelConfig(stack=2, stride=2, hidden=32, layers=1, dropout=0.0), vocab)
    g = torch.Generator().manual_seed(1)
    x, lens = pad_batch([torch.randn(t, FEATS.dim, generator=g) for t in (24, 30, 28)])
    ys = [torch.tensor(vocab.encode(t)) for t in targets]
    ctc = torch.nn.CTCLoss(blank=vocab.blank, zero_infinity=True)
    opt = torch.optim.Adam(m.parameters(), lr=2e-2)
    decoded: list[str] = []
    for step in range(400):
        m.train()
        lp, out_lens = m(x, lens)
        loss = ctc(lp.transpose(0, 1), torch.cat(ys), out_lens, torch.tensor([len(y) for y in ys]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            m.eval()
            with torch.no_grad():
                lp, out_lens = m(x, lens)
            decoded = [h.text for h in greedy_batch(lp, out_lens, vocab, frame_seconds=0.02)]
            if decoded == targets:
                break
    assert decoded == targets
