"""Distributed training: the sampler deals every step's global batch out to the ranks, and DDP
over gloo (2 CPU processes under torchrun) follows a single process with the same global batch;
rank 0 alone writes; a DDP run resumes from its last.pt."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from helpers import speechlike

from asr.config import load_config
from asr.data.dataset import BucketSampler
from asr.data.manifest import write_manifest
from asr.model import load_checkpoint
from asr.train.loop import Trainer

WORDS = ["yes", "no", "stop", "go", "left", "right", "up", "down", "on", "off"]

# No dropout and no augmentation: with the same seed, two ranks with batch B and one process
# with batch 2B compute the same function of the same data.
EXACT = ["model.hidden=24", "model.layers=2", "model.stack=3", "model.stride=3", "model.dropout=0.0",
         "augment.speed_factors=[]", "augment.freq_masks=0", "augment.time_masks=0",
         "train.threads=1", "train.log_every=1", "train.epochs=2", "train.seed=5", "train.patience=0",
         "train.checkpoint_every=0", "optim.warmup_steps=3", "optim.lr=3e-3"]


@pytest.fixture(scope="module")
def tone_corpus(tmp_path_factory) -> dict[str, Path]:
    """36 training and 4 dev utterances of speech-like tones (0.4-1.3 s) with random word
    transcripts: enough for CTC to have something to fit, fast to featurize."""
    out = tmp_path_factory.mktemp("tones")
    rng = random.Random(11)
    rows: dict[str, list] = {"train": [], "dev": []}
    for i in range(40):
        split = "dev" if i >= 36 else "train"
        seconds = rng.uniform(0.4, 1.3)
        path = out / f"{split}_{i:02d}.wav"
        sf.write(path, speechlike(16000, seconds, seed=i), 16000)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))
        rows[split].append({"audio": path.name, "text": text, "duration": seconds, "id": path.stem})
    for split, r in rows.items():
        write_manifest(out / f"{split}.jsonl", r)
    return {split: out / f"{split}.jsonl" for split in rows}


def _overrides(corpus: dict, out: Path, extra: list[str]) -> list[str]:
    return [f"data.train=[{corpus['train']}]", f"data.dev={corpus['dev']}", f"train.out_dir={out}", *EXACT, *extra]


def _torchrun(nproc: int, args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    """``torchrun --standalone`` (a free local port, chosen by the c10d rendezvous) on CPU.

    The timeout only guards against a hang (a run takes ~10 s on an idle 2-core machine). On
    expiry torchrun gets SIGTERM, which it passes on to its workers, so none is left behind."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "asr", "train", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
    r = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def _losses(run_dir: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return [e.value for e in sorted(acc.Scalars("train/loss"), key=lambda e: e.step)]


# ---------------------------------------------------------------------------------- the sampler
@pytest.mark.parametrize("world,accum", [(2, 1), (3, 1), (2, 2)])
def test_ranks_share_out_each_global_batch(world, accum):
    """Per step, the ranks' micro-batches are disjoint, cover the global batch exactly, and equal
    one process's batch of batch_size x world x accum; every rank gets as many batches."""
    durs = [random.Random(i).uniform(0.5, 9.0) for i in range(103)]
    single = BucketSampler(durs, 4 * world * accum, seed=9)
    ranks = [BucketSampler(durs, 4, seed=9, rank=r, world_size=world, accum_steps=accum) for r in range(world)]
    for epoch in range(3):
        per_rank = [s.batches(epoch) for s in ranks]
        assert len({len(b) for b in per_rank}) == 1, "ranks must have equal batch counts"
        assert per_rank == [s.batches(epoch) for s in ranks], "not deterministic"
        expected = [sorted(b) for b in single.batches(epoch) if len(b) >= world * accum]
        steps = []
        for k in range(len(per_rank[0]) // accum):
            shards = [b for r in range(world) for b in per_rank[r][k * accum : (k + 1) * accum]]
            flat = [i for b in shards for i in b]
            assert len(flat) == len(set(flat)), "an utterance on two ranks"
            assert all(0 < len(b) <= 4 for b in shards)
            steps.append(sorted(flat))
        assert steps == expected


def test_max_batch_seconds_bounds_padded_audio():
    """Dynamic batches: utterances x longest <= the cap on every rank, nothing lost but the
    remainder batch too small to share out; an over-long utterance gets a batch of its own."""
    durs = [random.Random(i).uniform(0.3, 12.0) for i in range(200)] + [30.0]
    for world in (1, 2):
        seen = []
        for rank in range(world):
            s = BucketSampler(durs, 1, max_batch_seconds=25.0, seed=1, rank=rank, world_size=world)
            for b in s.batches(0):
                longest = max(durs[i] for i in b)
                assert len(b) * longest <= 25.0 or len(b) == 1, (b, longest)
                seen += b
        assert len(seen) == len(set(seen)) and len(durs) - len(seen) < world


def test_batch_keys_differ_across_ranks():
    s = [BucketSampler([1.0] * 8, 2, rank=r, world_size=2) for r in range(2)]
    keys = {s[r].global_index(b) for r in range(2) for b in range(4)}
    assert len(keys) == 8 and BucketSampler([1.0], 1).global_index(5) == 5


# ---------------------------------------------------------------------------------- DDP runs
def test_two_ranks_follow_one_process_with_the_same_global_batch(tone_corpus, tmp_path):
    """2 gloo ranks x batch 4 vs 1 process x batch 8, same seed, no dropout or augmentation,
    10 steps: the per-step losses agree to 1e-4 relative and the final weights to 5e-4 absolute.

    Tolerance: the two runs compute the same function of the same utterances, but not in the
    same floating-point order: each rank's matrix products cover 4 rows instead of 8, the weight
    gradients are two partial sums over batch x time added by gloo's all-reduce instead of one
    sum, and each rank scales its sum by world_size / n before that addition. Each of these moves
    a result by a float32 ulp or so (~6e-8 relative), and ten Adam steps carry it on. Measured
    here: losses within 1.1e-7 relative, weights within 7e-6 absolute (largest weight ~10). The
    bounds leave a margin of ~100x for other CPUs and BLAS kernels, while a real difference
    (a rank seeing other utterances, rank 1 normalising features with other statistics, a mean
    taken per rank) moved the losses by 1e-2 relative or more from the first step."""
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    Trainer(load_config(None, _overrides(tone_corpus, single, ["train.batch_size=8"]))).fit()
    r = _torchrun(2, ["--config", os.devnull, *_overrides(tone_corpus, ddp, ["train.batch_size=4"])])

    a, b = _losses(single), _losses(ddp)
    assert len(a) == len(b) == 10
    assert b == pytest.approx(a, rel=1e-4), (a, b)
    wa = load_checkpoint(single / "last.pt")["model"]["state_dict"]
    wb = load_checkpoint(ddp / "last.pt")["model"]["state_dict"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=0, atol=5e-4), (k, (wa[k] - wb[k]).abs().max())

    # Rank 0 alone writes: one TensorBoard file, one result line, one history of 2 epochs with dev WER.
    assert len(list((ddp / "tb").glob("events.out.tfevents.*"))) == 1
    assert [json.loads(l)["steps"] for l in r.stdout.splitlines() if l.startswith("{")] == [10]
    history = [json.loads(l) for l in (ddp / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and all("dev_wer" in h for h in history)

    # Resume under DDP: both ranks load the same last.pt and carry on to a third epoch.
    _torchrun(2, ["--resume", str(ddp), "train.epochs=3"])
    s = load_checkpoint(ddp / "last.pt")
    assert (s["epoch"], s["step"], s["world_size"]) == (3, 15, 2)
    assert len((ddp / "history.jsonl").read_text().splitlines()) == 3


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs (NCCL)")
def test_two_gpus_with_nccl_train(tone_corpus, tmp_path):
    _torchrun(2, ["--config", os.devnull, "--device", "cuda", *_overrides(tone_corpus, tmp_path / "gpu", ["train.batch_size=4"])])
    assert load_checkpoint(tmp_path / "gpu" / "last.pt")["step"] == 10
