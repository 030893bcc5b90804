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
