"""Training: kill -9 and resume ends where an uninterrupted run ends; seeded runs reproduce;
a short end-to-end run learns held-out synthetic speech."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asr.config import load_config
from asr.evaluate import evaluate
from asr.model import load_checkpoint
from asr.train.loop import Trainer, lr_lambda
from asr.transcribe import load_model

TINY = ["model.hidden=32", "model.layers=1", "model.stack=3", "model.stride=3", "model.dropout=0.1",
        "train.batch_size=8", "train.threads=1", "train.log_every=1", "optim.warmup_steps=5"]


def _overrides(corpus: dict, out: Path, extra: list[str]) -> list[str]:
    return [f"data.train=[{corpus['train']}]", f"data.dev={corpus['dev']}", f"train.out_dir={out}", *TINY, *extra]


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "asr", "train", *args]


def test_lr_schedule_warms_up_then_decays():
    vals = [lr_lambda(s, 10, 100, 0.1) for s in range(120)]
    assert vals[0] < vals[5] < vals[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(vals[10:], vals[11:]))
    assert vals[-1] == pytest.approx(0.1)


def test_seeded_runs_are_reproducible(synth_corpus, tmp_path):
    states = []
    for name in ("a", "b"):
        cfg = load_config(None, _overrides(synth_corpus, tmp_path / name, ["train.epochs=1", "train.seed=7"]))
        Trainer(cfg).fit()
        states.append(load_checkpoint(tmp_path / name / "last.pt")["model"]["state_dict"])
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted(synth_corpus, tmp_path):
    extra = ["train.epochs=2", "train.checkpoint_every=3", "train.seed=3"]
    full = tmp_path / "full"
    subprocess.run(_cli(["--config", os.devnull, *_overrides(synth_corpus, full, extra)]), check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(["--config", os.devnull, *_overrides(synth_corpus, killed, extra)]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill -9 once a mid-epoch checkpoint exists (the run has 2 epochs of ~30 steps).
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        last = killed / "last.pt"
        if last.exists():
            try:
                if load_checkpoint(last)["step"] >= 6:
                    break
            except ValueError:
                pass  # never happens with atomic saves; a retry is harmless
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = load_checkpoint(killed / "last.pt")
    assert interrupted_at["epoch"] < 2 and interrupted_at["step"] >= 6

    subprocess.run(_cli(["--resume", str(killed)]), check=True, capture_output=True)
    a = load_checkpoint(full / "last.pt")
    b = load_checkpoint(killed / "last.pt")
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
    for k, v in a["model"]["state_dict"].items():
        assert torch.equal(v, b["model"]["state_dict"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]


def test_resume_without_run_dir_is_a_clear_error(tmp_path):
    r = subprocess.run(_cli(["--resume", str(tmp_path / "nope")]), capture_output=True, text=True)
    assert r.returncode == 2 and "nothing to resume" in r.stderr


def test_bad_override_is_a_clear_error(tmp_path):
    r = subprocess.run(_cli(["--config", os.devnull, "model.hiddn=3"]), capture_output=True, text=True)
    assert r.returncode == 2 and "hiddn" in r.stderr


@pytest.mark.slow
def test_end_to_end_learns_synthetic_speech(synth_model, synth_corpus):
    """Trained briefly on espeak-ng speech (configs/demo.yaml), the model transcribes held-out
    sentences (new word sequences) far better than chance: an untrained model scores ~100% CER."""
    out = synth_model.parent
    assert (out / "tb").is_dir() and (out / "last.pt").is_file()
    history = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert len(history) == 20 and history[-1]["dev_cer"] < history[0]["dev_cer"]
    res = evaluate(load_model(synth_model), str(synth_corpus["test"]))
    assert res["n"] == 40
    assert res["cer"] < 50.0, res["cer"]


# ------------------------------------------------------------------ scale: accumulation, AMP, workers, corpus weights
EXACT = ["model.dropout=0.0", "augment.speed_factors=[]", "augment.freq_masks=0", "augment.time_masks=0",
         "train.epochs=1", "train.seed=2", "train.checkpoint_every=0"]


def _subset(manifest: Path, n: int, out: Path) -> Path:
    """The first n rows of a manifest, audio paths made absolute, as a new manifest."""
    from asr.data.manifest import read_manifest, write_manifest

    write_manifest(out, list(read_manifest(manifest))[:n])
    return out


def _small(synth_corpus: dict, tmp_path: Path, n: int = 24) -> dict:
    return {"train": _subset(synth_corpus["train"], n, tmp_path / f"train{n}.jsonl"), "dev": synth_corpus["dev"]}


def _tb_losses(run_dir: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return [e.value for e in sorted(acc.Scalars("train/loss"), key=lambda e: e.step)]


def test_accumulation_equals_one_big_batch(synth_corpus, tmp_path):
    """accum_steps 2 x batch 4 against batch 8 (no dropout or augmentation, same seed): the same
    utterances per step, the same mean loss. Losses within 1e-4 relative, weights within 5e-4:
    only the floating-point order differs (two partial gradient sums of 4 utterances added,
    against one sum of 8; products over 4 rows against 8), a few ulps per step (measured: losses
    within ~1e-7 relative, as in tests/test_ddp.py)."""
    data = _small(synth_corpus, tmp_path)
    runs = {}
    for name, extra in {"big": ["train.batch_size=8"], "accum": ["train.batch_size=4", "train.accum_steps=2"]}.items():
        cfg = load_config(None, _overrides(data, tmp_path / name, [*EXACT, *extra]))
        runs[name] = Trainer(cfg).fit()
    assert runs["big"]["steps"] == runs["accum"]["steps"] == 3
    a, b = _tb_losses(tmp_path / "big"), _tb_losses(tmp_path / "accum")
    assert len(a) == 3 and b == pytest.approx(a, rel=1e-4)
    wa = load_checkpoint(tmp_path / "big" / "last.pt")["model"]["state_dict"]
    wb = load_checkpoint(tmp_path / "accum" / "last.pt")["model"]["state_dict"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=0, atol=5e-4), k


def test_bf16_autocast_trains_on_cpu(synth_corpus, tmp_path):
    """train.amp=bf16 runs the model under CPU autocast (CTC in float32) and still learns a step;
    its first loss is the fp32 loss within bf16 precision (8 mantissa bits: ~1% here)."""
    data = _small(synth_corpus, tmp_path, 16)
    losses = {}
    for amp in ("none", "bf16"):
        Trainer(load_config(None, _overrides(data, tmp_path / amp, [*EXACT, f"train.amp={amp}"]))).fit()
        losses[amp] = _tb_losses(tmp_path / amp)
    assert all(math.isfinite(x) for x in losses["bf16"]) and len(losses["bf16"]) == 2
    assert losses["bf16"][0] == pytest.approx(losses["none"][0], rel=0.05)
    state = load_checkpoint(tmp_path / "bf16" / "last.pt")["model"]["state_dict"]
    assert all(v.dtype == torch.float32 for v in state.values())  # weights stay fp32 (autocast, not .half())


def test_intermediate_ctc_mixes_the_two_losses(synth_corpus, tmp_path):
    """train.inter_ctc_layer=1: the logged loss is (1 - w) * final CTC + w * layer-1 CTC, and the
    checkpoint holds exactly a plain model's parameters."""
    data = _small(synth_corpus, tmp_path, 16)
    cfg = load_config(None, _overrides(data, tmp_path / "inter", [*EXACT, "model.layers=2", "train.batch_size=16",
                                                                   "train.inter_ctc_layer=1", "train.inter_ctc_weight=0.25"]))
    trainer = Trainer(cfg)
    with torch.no_grad():  # sharper outputs and a layer 2 that matters: the two losses differ clearly
        for p in [*trainer.model.layers[1].parameters(), trainer.model.output.weight]:
            p.mul_(8.0)
    batch = next(trainer.data.stream(0, 0, 1))[2]
    with torch.no_grad():
        final, lens, inter = trainer.model.train()(batch.feats, batch.feat_lens, inter_layer=1)
    ctc = torch.nn.CTCLoss(blank=trainer.vocab.blank, reduction="none", zero_infinity=True)
    f, i = (float((ctc(x.transpose(0, 1), batch.targets, lens, batch.target_lens) / batch.target_lens).mean())
            for x in (final, inter))
    assert abs(f - i) > 0.1  # so that the check below tells the mixture from either loss alone
    trainer.fit()
    assert _tb_losses(tmp_path / "inter")[0] == pytest.approx(0.75 * f + 0.25 * i, abs=2e-3)
    state = load_checkpoint(tmp_path / "inter" / "last.pt")["model"]["state_dict"]
    assert state.keys() == trainer.model.state_dict().keys()
    with pytest.raises(ValueError, match="inter_ctc"):
        load_config(None, ["train.inter_ctc_weight=1.5"])


def test_last_epochs_are_averaged_and_kept_only_if_better(synth_corpus, tmp_path):
    """train.average_last=2: averaged.pt is the mean of the last two epochs' weights; older epoch
    files are deleted; best.pt is the average only when the average's dev WER is the best."""
    import json

    from asr.model import AcousticModel

    data = _small(synth_corpus, tmp_path, 16)
    out = tmp_path / "avg"
    Trainer(load_config(None, _overrides(data, out, [*EXACT, "train.epochs=3", "train.average_last=2"]))).fit()
    kept = sorted(p.name for p in (out / "epochs").glob("*.pt"))
    assert kept == ["epoch2.pt", "epoch3.pt"]
    states = [load_checkpoint(out / "epochs" / name)["state_dict"] for name in kept]
    avg = AcousticModel.load(out / "averaged.pt").state_dict()
    for k in avg:
        torch.testing.assert_close(avg[k], (states[0][k] + states[1][k]) / 2, atol=1e-6, rtol=0)
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    entry = history[-1]
    assert entry["averaged_epochs"] == [2, 3]
    best_epoch_wer = min(h["dev_wer"] for h in history[:-1])
    best = AcousticModel.load(out / "best.pt").state_dict()
    assert torch.equal(best["output.weight"], avg["output.weight"]) == bool(entry.get("best"))
    assert bool(entry.get("best")) == (entry["dev_wer"] < best_epoch_wer)


def test_distillation_mixes_ctc_and_teacher_kl(synth_corpus, tmp_path):
    """train.distill_from: the logged loss is (1 - w) * CTC + w * KL(teacher[t - delay] ||
    student[t]) summed over frames / target length; a teacher at another frame rate is refused."""
    from asr.config import FeatureConfig, ModelConfig
    from asr.model import AcousticModel
    from asr.text import Vocabulary

    data = _small(synth_corpus, tmp_path, 16)
    base = [*EXACT, "model.bidirectional=false", "train.batch_size=16"]
    torch.manual_seed(5)
    teacher = AcousticModel(FeatureConfig(), ModelConfig(hidden=16, layers=1, stack=3, stride=3, bidirectional=True), Vocabulary())
    with torch.no_grad():
        teacher.output.weight.mul_(20.0)  # a confident teacher: its KL term is far from the CTC loss
    teacher.save(tmp_path / "teacher.pt")
    cfg = load_config(None, _overrides(data, tmp_path / "kd", [*base, f"train.distill_from={tmp_path / 'teacher.pt'}",
                                                               "train.distill_weight=0.4", "train.distill_delay=2"]))
    trainer = Trainer(cfg)
    batch = next(trainer.data.stream(0, 0, 1))[2]
    with torch.no_grad():
        student, lens = trainer.model.train()(batch.feats, batch.feat_lens)
        target, _ = teacher.eval()(batch.feats, batch.feat_lens)
    ctc = torch.nn.CTCLoss(blank=trainer.vocab.blank, reduction="none", zero_infinity=True)
    c = ctc(student.transpose(0, 1), batch.targets, lens, batch.target_lens)
    kl = torch.zeros(len(lens))
    for b, n in enumerate(lens.tolist()):
        for t in range(2, n):
            p = target[b, t - 2]
            kl[b] += (p.exp() * (p - student[b, t])).sum()
    c, kl = float((c / batch.target_lens).mean()), float((kl / batch.target_lens).mean())
    assert abs(c - kl) > 0.1  # so that the check below tells the mixture from either term alone
    trainer.fit()
    assert _tb_losses(tmp_path / "kd")[0] == pytest.approx(0.6 * c + 0.4 * kl, rel=1e-3)
    assert load_checkpoint(tmp_path / "kd" / "last.pt")["model"]["state_dict"].keys() == trainer.model.state_dict().keys()

    other = AcousticModel(FeatureConfig(), ModelConfig(hidden=16, layers=1, stack=2, stride=2), Vocabulary())
    other.save(tmp_path / "stride2.pt")
    with pytest.raises(ValueError, match="output stride"):
        Trainer(load_config(None, _overrides(data, tmp_path / "kd2", [*base, f"train.distill_from={tmp_path / 'stride2.pt'}"])))
    with pytest.raises(ValueError, match="distill_weight"):
        load_config(None, ["train.distill_weight=1.0"])


def test_fp16_and_cuda_need_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CPU-only error paths are not reachable")
    with pytest.raises(ValueError, match="CUDA"):
        Trainer(load_config(None, ["data.train=[x.jsonl]", "train.device=cuda", f"train.out_dir={tmp_path}"]))
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        Trainer(load_config(None, ["data.train=[x.jsonl]", "train.amp=fp16", f"train.out_dir={tmp_path}"]))
    r = subprocess.run(_cli(["--config", os.devnull, "--device", "cuda", "data.train=[x.jsonl]"]), capture_output=True, text=True)
    assert r.returncode == 2 and "CUDA is not available" in r.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (checks the GPU path: cuDNN LSTM, AMP, pinned workers)")
@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_trains_on_gpu(synth_corpus, tmp_path, amp):
    data = _small(synth_corpus, tmp_path, 16)
    extra = ["train.device=cuda", f"train.amp={amp}", "data.num_workers=1", "train.accum_steps=2"]
    result = Trainer(load_config(None, _overrides(data, tmp_path / amp, extra + ["train.epochs=2"]))).fit()
    assert result["steps"] == 2 and all(math.isfinite(x) for x in _tb_losses(tmp_path / amp))


def test_data_workers_give_the_same_batches(synth_corpus, tmp_path):
    """data.num_workers=2 makes the batches in worker processes: the same batches, in the same
    order, as in-process (speed perturbation on), also when starting mid-epoch as a resume does;
    and a run with workers ends with the same weights, bit for bit."""
    data = _small(synth_corpus, tmp_path, 20)
    cfg = load_config(None, _overrides(data, tmp_path / "w0", ["train.batch_size=3", "train.epochs=2"]))
    trainer = Trainer(cfg)
    inproc = list(trainer.data.stream(0, 2, 2, num_workers=0))
    workers = list(trainer.data.stream(0, 2, 2, num_workers=2))
    assert [(e, b) for e, b, _ in workers] == [(e, b) for e, b, _ in inproc]
    assert len(inproc) == 2 * trainer.data.num_batches(0) - 2
    for (_, _, x), (_, _, y) in zip(inproc, workers):
        assert x.ids == y.ids and torch.equal(x.feats, y.feats) and torch.equal(x.targets, y.targets)

    trainer.fit()
    extra = ["train.batch_size=3", "train.epochs=2", "data.num_workers=2"]
    Trainer(load_config(None, _overrides(data, tmp_path / "w2", extra))).fit()
    a = load_checkpoint(tmp_path / "w0" / "last.pt")["model"]["state_dict"]
    b = load_checkpoint(tmp_path / "w2" / "last.pt")["model"]["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corpus_weights_repeat_and_subsample():
    """Weight 3: every utterance of that corpus three times per epoch; weight 0.5: a different,
    seeded half each epoch; all weights 1: the unweighted batches exactly."""
    from asr.data.dataset import BucketSampler

    durs = [1.0 + 0.1 * i for i in range(10)]
    corpus = [0] * 6 + [1] * 4
    s = BucketSampler(durs, 4, seed=3, corpus=corpus, weights=[1.0, 3.0])
    items = s.epoch_items(0)
    assert sorted(items) == list(range(6)) + sorted(list(range(6, 10)) * 3)
    assert sorted(i for b in s.batches(0) for i in b) == sorted(items)

    half = BucketSampler(durs, 4, seed=3, corpus=corpus, weights=[1.0, 0.5])
    picks = [tuple(i for i in half.epoch_items(e) if i >= 6) for e in range(6)]
    assert all(len(p) == 2 for p in picks) and len(set(picks)) > 1
    assert picks == [tuple(i for i in half.epoch_items(e) if i >= 6) for e in range(6)]  # seeded

    plain, ones = BucketSampler(durs, 4, seed=3), BucketSampler(durs, 4, seed=3, corpus=corpus, weights=[1, 1])
    assert all(plain.batches(e) == ones.batches(e) for e in range(3))


def test_corpus_weights_from_config(synth_corpus, tmp_path):
    a = _subset(synth_corpus["train"], 6, tmp_path / "a.jsonl")
    b = _subset(synth_corpus["dev"], 4, tmp_path / "b.jsonl")
    cfg = load_config(None, [f"data.train=[{a},{b}]", "data.weights=[1, 2.5]", f"train.out_dir={tmp_path / 'run'}", *TINY])
    items = Trainer(cfg).data.sampler.epoch_items(0)
    assert len(items) == 6 + 4 * 2 + 2 and all(items.count(i) == 1 for i in range(6))
    with pytest.raises(ValueError, match="one weight per"):
        load_config(None, [f"data.train=[{a},{b}]", "data.weights=[1]"])


@pytest.mark.parametrize("bidirectional", [True, False])
def test_dev_features_are_what_the_recognizer_gives_the_model(synth_corpus, tmp_path, bidirectional):
    """Training's dev WER scores the input that ``asr evaluate`` gives the same checkpoint: for a
    unidirectional model that includes the tail silence after each utterance."""
    from asr.audio import load_audio
    from asr.data.manifest import read_manifest
    from asr.features import compute_features
    from asr.transcribe import Recognizer

    cfg = load_config(None, _overrides(synth_corpus, tmp_path / "run", [f"model.bidirectional={str(bidirectional).lower()}"]))
    trainer = Trainer(cfg)
    rec = Recognizer(trainer.model)
    row = next(iter(read_manifest(synth_corpus["dev"])))
    audio = load_audio(row["audio"], rec.sample_rate)
    expected = compute_features(torch.from_numpy(rec.model_input(audio)), cfg.features)
    got = trainer.dev.get(0)
    assert torch.equal(got, expected)
    plain = compute_features(torch.from_numpy(audio), cfg.features)
    assert got.shape[0] - plain.shape[0] == (0 if bidirectional else 10)  # 0.1 s of 10 ms frames
