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


WORD_VOCAB = ["yes", "no", "stop", "go", "seven", "four", "help", "three", "five", "erase"]


@pytest.fixture(scope="session")
def words_corpus(tmp_path_factory) -> dict[str, Path]:
    """A closed-vocabulary corpus: WORD_VOCAB spoken by every espeak-ng voice at several speeds,
    alone and in runs of 2-3 words separated by pauses (so the model learns to write the space)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    import random
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import soundfile as sf

    from asr.audio import load_audio
    from asr.data.manifest import write_manifest
    from asr.data.synth import SPEAKERS, synthesize

    out = tmp_path_factory.mktemp("words")
    rng = random.Random(7)
    jobs = [(w, v, s) for w in WORD_VOCAB for v in SPEAKERS for s in (135, 175)]
    clips = {}

    def make(k_job):
        k, (w, v, s) = k_job
        return (w, v, s), load_audio(synthesize(w, out / f"clip_{k:04d}.wav", voice=v, speed=s))

    with ThreadPoolExecutor(2) as pool:
        for job, audio in pool.map(make, enumerate(jobs)):
            clips[job] = audio
    rows = {"train": [], "dev": []}
    for i in range(520):
        split = "dev" if i % 13 == 0 else "train"
        n = 1 if i < 200 else rng.choice([2, 3])
        voice = rng.choice(SPEAKERS)
        words = [rng.choice(WORD_VOCAB) for _ in range(n)]
        parts = [np.zeros(int(16000 * rng.uniform(0.1, 0.4)), np.float32)]
        for w in words:
            parts += [clips[(w, voice, rng.choice((135, 175)))], np.zeros(int(16000 * rng.uniform(0.25, 0.7)), np.float32)]
        audio = np.concatenate(parts)
        audio += np.random.default_rng(i).standard_normal(len(audio)).astype(np.float32) * 0.002
        path = out / f"{split}_{i:04d}.wav"
        sf.write(path, audio, 16000)
        rows[split].append({"audio": path.name, "text": " ".join(words), "duration": len(audio) / 16000, "speaker": voice, "id": path.stem})
    return {split: Path(out / f"{split}.jsonl") for split in rows if write_manifest(out / f"{split}.jsonl", rows[split])}


_WORDS_RECIPE = ["model.hidden=160", "model.stride=2", "train.epochs=30", "augment.time_masks=0", "optim.lr=3e-3"]


@pytest.fixture(scope="session")
def words_model(words_corpus, tmp_path_factory) -> Path:
    """A small bidirectional model that knows WORD_VOCAB (word-timing tests)."""
    return _train_on_synth(words_corpus, tmp_path_factory.mktemp("words_model"), _WORDS_RECIPE)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """A tiny untrained model that still says something (see helpers.save_tiny_model)."""
    from helpers import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("model") / "best.pt")


@pytest.fixture(scope="module")
def rec(model_path):
    import asr

    return asr.load_model(model_path)
