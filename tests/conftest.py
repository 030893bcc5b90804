"""Shared fixtures: a small espeak-ng corpus synthesized once per test session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

SHARED_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory) -> dict[str, Path]:
    """{split: manifest} for ~460 short synthetic utterances (a few seconds to make)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    from asr.data.synth import synthesize_corpus

    return synthesize_corpus(tmp_path_factory.mktemp("synth"), n_train=400, n_dev=24, n_test=40, seed=123)


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Test tensors are tiny: extra intra-op threads only add overhead, and on a busy machine a
    parallel region waits for descheduled threads (seen: 100x slower). Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _train_on_synth(synth_corpus, out: Path, overrides: list[str]) -> Path:
    from asr.config import load_config
    from asr.train.loop import Trainer

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml",
                      [f"data.train=[{synth_corpus['train']}]", f"data.dev={synth_corpus['dev']}",
                       f"train.out_dir={out}", "train.threads=2", *overrides])
    threads = torch.get_num_threads()
    try:
        Trainer(cfg).fit()
    finally:
        torch.set_num_threads(threads)
    return out / "best.pt"


@pytest.fixture(scope="session")
def synth_model(synth_corpus, tmp_path_factory) -> Path:
    """A bidirectional model trained for a few CPU minutes on ``synth_corpus`` (configs/demo.yaml)."""
    return _train_on_synth(synth_corpus, tmp_path_factory.mktemp("synth_model"), [])


@pytest.fixture(scope="session")
def synth_stream_model(synth_corpus, tmp_path_factory) -> Path:
    """The same recipe, unidirectional: a streaming model for the live tests."""
    return _train_on_synth(synth_corpus, tmp_path_factory.mktemp("synth_stream_model"), ["model.bidirectional=false"])
