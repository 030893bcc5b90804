"""The training loop: CTC loss, AdamW, warm-up + cosine decay, clipping, SpecAugment, dev WER,
best-checkpoint selection, early stopping, atomic checkpoints and exact resume; on CPU or CUDA,
with mixed precision, gradient accumulation and DDP (one process per device, under torchrun).

Reads top to bottom: set-up, then ``for epoch: for step: micro-batches``, then evaluation.

One optimizer step sees one *global* batch: ``accum_steps`` micro-batches on each of
``world_size`` processes (the sampler deals them out). Its loss is the mean over all of the
global batch's utterances of (CTC loss / target length), as ``nn.CTCLoss(reduction="mean")``
would give on the whole global batch in one process; each micro-batch contributes its share, and
DDP sums the shares across processes.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config import Config, save_config
from ..data.dataset import Batch, BucketSampler, TrainData, UtteranceFeatures, collate, feature_stats, load_rows, spec_augment
from ..decoding.greedy import greedy_batch
from ..model import AcousticModel, atomic_save, load_checkpoint, tail_silence
from ..text import make_vocabulary
from .average import average_state_dicts
from .distributed import DistEnv, NullWriter, all_reduce_sum, broadcast_object, broadcast_tensors, resolve_device
from .metrics import error_rates

log = logging.getLogger(__name__)


def _cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX). From /proc/cpuinfo on
    Linux; elsewhere oneDNN's own check, which also says yes for plain AVX512 (emulated bf16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def lr_lambda(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_ratio`` at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(), "python": repr(random.getstate())}


def step_seeds(seed: int, step: int, micro: int = 0, rank: int = 0) -> tuple[int, int]:
    """Seeds for dropout and for SpecAugment of one micro-batch. The first micro-batch on rank 0
    keeps the single-process seeds of (seed, step); the others get their own."""
    key = (seed, step) if micro == 0 and rank == 0 else (seed, step, micro, rank)
    return hash(key) & 0x7FFFFFFF, hash(key + (1,)) & 0x7FFFFFFF


@torch.no_grad()
def evaluate_wer(model: AcousticModel, feats: UtteranceFeatures, batch_size: int = 32) -> tuple[float, float]:
    """Greedy WER/CER (%) over every readable utterance of ``feats``."""
    model.eval()
    device = model.feat_mean.device
    refs, hyps = [], []
    order = sorted(range(len(feats.rows)), key=lambda i: float(feats.rows[i].get("duration") or 0))
    for s in range(0, len(order), batch_size):
        idx = [i for i in order[s : s + batch_size] if feats.get(i) is not None]
        if not idx:
            continue
        b = collate([feats.get(i) for i in idx], [feats.rows[i]["text"] for i in idx], [str(i) for i in idx],
                    model.vocab, model.feature_cfg.frame_shift)
        lp, lens = model(b.feats.to(device), b.feat_lens)
        hyps += [h.text for h in greedy_batch(lp.float().cpu(), lens, model.vocab, model.feature_cfg.frame_shift * model.cfg.stride)]
        refs += b.texts
    return error_rates(refs, hyps)


def _shape(model_cfg: dict) -> dict:
    """The model settings that weights depend on (dropout may change when fine-tuning)."""
    return {k: v for k, v in model_cfg.items() if k != "dropout"}


class Trainer:
    """``Trainer(cfg).fit()`` in one process. Under torchrun, pass the ``DistEnv`` that
    ``distributed.session()`` yields: every rank trains, rank 0 alone writes."""

    def __init__(self, cfg: Config, resume: bool = False, env: Optional[DistEnv] = None) -> None:
        self.cfg = cfg
        t = cfg.train
        self.env = env if env is not None else DistEnv(device=resolve_device(t.device))
        self.device = self.env.device
        self.out = Path(t.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if t.threads:
            torch.set_num_threads(t.threads)
        seed_everything(t.seed)
        if not cfg.data.train:
            raise ValueError("data.train is empty: give at least one training manifest (data.train=[path.jsonl])")
        if t.amp == "fp16" and self.device.type != "cuda":
            raise ValueError(f"train.amp=fp16 needs a CUDA device (train.device is {t.device!r}); use train.amp=bf16 on CPU")

        self.vocab = make_vocabulary(cfg.data.tokenizer)
        rows, corpus = self._load_train_rows()
        sampler = BucketSampler([float(r.get("duration") or 1.0) for r in rows], t.batch_size, t.max_batch_seconds, t.seed,
                                rank=self.env.rank, world_size=self.env.world_size, accum_steps=t.accum_steps,
                                corpus=corpus, weights=cfg.data.weights or None)
        self.data = TrainData(rows, cfg.features, cfg.augment, self.vocab, sampler, t.seed, cfg.data.cache_features)
        # Dev evaluation runs on rank 0 only, on the input the recognizer gives the model (tail padding).
        self.dev = (UtteranceFeatures(load_rows([cfg.data.dev]), cfg.features, tail=tail_silence(cfg.model, cfg.features.sample_rate))
                    if cfg.data.dev and self.env.is_main else None)

        self.model = AcousticModel(cfg.features, cfg.model, self.vocab).to(self.device)
        if self.device.type == "cuda":  # nn.LSTM runs as cuDNN's fused kernel; keep its weights in one block
            for m in self.model.modules():
                if isinstance(m, nn.LSTM):
                    m.flatten_parameters()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas,
                                           weight_decay=cfg.optim.weight_decay)
        self.steps_per_epoch = math.ceil(self.data.num_batches(0) / t.accum_steps)
        total = self.steps_per_epoch * t.epochs
        o = cfg.optim
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_lambda(s, o.warmup_steps, total, o.min_lr_ratio))
        # fp16 needs loss scaling (its range is too small for small gradients); disabled, the
        # scaler passes everything straight through.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.amp == "fp16")
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.amp)
        if t.amp == "bf16" and self.device.type == "cpu" and not _cpu_has_bf16():
            log.warning("train.amp=bf16 on a CPU without native bfloat16 (AVX512-BF16 or AMX): it is emulated "
                        "and slower than fp32 here; train.amp=none is faster")
        # Per-utterance losses: the mean over the global batch is formed in train_step.
        self.ctc = nn.CTCLoss(blank=self.vocab.blank, reduction="none", zero_infinity=True)
        # Progress counters; all of them are saved in checkpoints.
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best_wer, self.bad_epochs, self.history = float("inf"), 0, []
        self._spare: Optional[Batch] = None  # see train_step

        if resume:
            self._load_state(self.out / "last.pt")
        elif self.env.is_main:  # other ranks receive the statistics with the weights, below
            save_config(cfg, self.out / "config.yaml")
            if t.init_from:
                self._init_from(t.init_from)
            else:
                log.info("computing feature normalisation statistics over %d utterances", min(2000, len(rows)))
                self.model.set_normalization(*(x.to(self.device) for x in feature_stats(self.data.features, seed=t.seed)))
        # DDP copies rank 0's weights to every rank, then averages gradients during backward.
        # The buffers (normalisation statistics) never change: they are sent once, here.
        self.net: nn.Module = self.model
        if self.env.distributed:
            broadcast_tensors(list(self.model.buffers()), self.env)
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None, broadcast_buffers=False)
        self._fill = self.model.feat_mean.detach().cpu()  # SpecAugment's mask value, on the CPU where it runs
        self.teacher = self._load_teacher(t.distill_from) if t.distill_from else None
        if self.env.is_main:
            print(self.model.summary(), file=sys.stderr)
            print(f"train: {len(rows)} utterances, {sum(float(r.get('duration') or 0) for r in rows) / 3600:.2f} h, "
                  f"{self.steps_per_epoch} steps/epoch; {self._describe_setup()}", file=sys.stderr)

    def _init_from(self, path: str) -> None:
        """Copy weights and normalisation statistics from a checkpoint whose model fits this config."""
        source = AcousticModel.load(path)
        mine, theirs = _shape(asdict(self.cfg.model)), _shape(asdict(source.cfg))
        if not theirs["lookahead"]:  # a look-ahead may be added: it starts at zero, as if absent
            mine["lookahead"] = 0
        self._require_same("train.init_from", path, source, "fine-tuning needs the same features, model shape and vocabulary",
                           ("model", mine, theirs))
        missing = self.model.load_state_dict(source.state_dict(), strict=False).missing_keys
        assert missing == (["lookahead.weight"] if self.cfg.model.lookahead and not source.cfg.lookahead else []), missing
        log.info("initialised from %s (weights and feature statistics%s)", path, "; look-ahead from zero" if missing else "")

    def _load_teacher(self, path: str) -> AcousticModel:
        """The frozen distillation teacher; it must read the same features and write the same
        tokens at the same output frame rate as the model being trained."""
        teacher = AcousticModel.load(path).to(self.device).eval()
        self._require_same("train.distill_from", path, teacher, "distillation compares the two models frame by frame",
                           ("output stride", self.cfg.model.stride, teacher.cfg.stride))
        for p in teacher.parameters():
            p.requires_grad_(False)
        log.info("distilling from %s (weight %.2f, delay %d frames)", path, self.cfg.train.distill_weight,
                 self.cfg.train.distill_delay)
        return teacher

    def _require_same(self, option: str, path: str, other: AcousticModel, need: str, *more: tuple) -> None:
        """Raise unless ``other`` has this config's features and vocabulary, and equal ``more``
        (name, ours, theirs) pairs."""
        pairs = (("features", asdict(self.cfg.features), asdict(other.feature_cfg)), *more,
                 ("vocabulary", self.vocab.to_dict(), other.vocab.to_dict()))
        mismatch = [name for name, mine, theirs in pairs if mine != theirs]
        if mismatch:
            raise ValueError(f"{option}={path}: its {' and '.join(mismatch)} differ from this config's; {need}")

    def _distill_losses(self, log_probs: torch.Tensor, out_lens: torch.Tensor, teacher_lp: torch.Tensor) -> torch.Tensor:
        """Per utterance: sum over frames t in [delay, length) of KL(teacher[t - delay] || student[t])."""
        d = self.cfg.train.distill_delay
        T = log_probs.shape[1]
        if d >= T:  # utterances too short to have a delayed frame
            return log_probs.new_zeros(log_probs.shape[0], dtype=torch.float32)
        student = log_probs[:, d:].float()
        teacher = teacher_lp[:, : T - d].float()
        kl = (teacher.exp() * (teacher - student)).sum(-1)  # (batch, T - d)
        valid = torch.arange(d, T, device=kl.device)[None, :] < out_lens.to(kl.device)[:, None]
        return (kl * valid).sum(1)

    def _load_train_rows(self) -> tuple[list[dict], Optional[list[int]]]:
        """Training rows, and with data.weights the manifest index of each row."""
        d = self.cfg.data
        if not d.weights:
            return load_rows(d.train, d.min_duration, d.max_duration), None
        rows, corpus = [], []
        for k, manifest in enumerate(d.train):
            part = load_rows([manifest], d.min_duration, d.max_duration)
            rows += part
            corpus += [k] * len(part)
        return rows, corpus

    def _describe_setup(self) -> str:
        t, env = self.cfg.train, self.env
        where = str(self.device)
        if self.device.type == "cuda":
            cudnn = torch.backends.cudnn.enabled and torch.backends.cudnn.is_available()
            where += f" ({torch.cuda.get_device_name(self.device)}, {'cuDNN' if cudnn else 'native'} LSTM)"
        per_step = f"{t.accum_steps} x {env.world_size} micro-batches of " + (
            f"<= {t.max_batch_seconds:g} padded s" if t.max_batch_seconds else f"{t.batch_size} utterances")
        return (f"{where}, amp {t.amp}, {env.world_size} process(es), "
                f"{per_step} per step, {self.cfg.data.num_workers} data worker(s) per process")

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict:
        return {
            "model": self.model.checkpoint(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "best_wer": self.best_wer,
            "bad_epochs": self.bad_epochs,
            "history": json.dumps(self.history),
            "rng": {"torch": torch.get_rng_state()},
            "scaler": self.scaler.state_dict(),
            # Batches depend on these: a resume with other values continues, but not exactly.
            "world_size": self.env.world_size,
            "accum_steps": self.cfg.train.accum_steps,
        }

    def save(self) -> None:
        if self.env.is_main:
            atomic_save(self._state(), self.out / "last.pt")

    def _load_state(self, path: Path) -> None:
        s = load_checkpoint(path)
        self.model.load_state_dict(s["model"]["state_dict"])
        self.optimizer.load_state_dict(s["optimizer"])
        self.scheduler.load_state_dict(s["scheduler"])
        self.epoch, self.batch_in_epoch, self.step = s["epoch"], s["batch_in_epoch"], s["step"]
        self.best_wer, self.bad_epochs = s["best_wer"], s["bad_epochs"]
        self.history = json.loads(s["history"])
        torch.set_rng_state(s["rng"]["torch"])
        if s.get("scaler"):
            self.scaler.load_state_dict(s["scaler"])
        if not self.env.is_main:
            return
        print(f"resumed from {path}: epoch {self.epoch}, batch {self.batch_in_epoch}, step {self.step}", file=sys.stderr)
        saved = (s.get("world_size", 1), s.get("accum_steps", 1))
        if saved != (self.env.world_size, self.cfg.train.accum_steps):
            log.warning("checkpoint written with %d process(es) x accum_steps %d, resumed with %d x %d: "
                        "training continues, but the rest of this epoch's batches differ from the original run's",
                        *saved, self.env.world_size, self.cfg.train.accum_steps)

    # ------------------------------------------------------------------ training
    def _loss_sum(self, batch: Batch, gen: torch.Generator) -> torch.Tensor:
        """Sum over the batch's utterances of CTC loss / target length (a 0-dim float32 tensor)."""
        feats = batch.feats
        teacher_lp = None
        if self.teacher is not None:  # the teacher hears the features before SpecAugment
            with torch.no_grad(), torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                                 enabled=self.amp_dtype is not None):
                teacher_lp, _ = self.teacher(feats.to(self.device, non_blocking=True), batch.feat_lens)
        if self.cfg.augment.freq_masks or self.cfg.augment.time_masks:
            feats = spec_augment(feats.clone(), batch.feat_lens, self.cfg.augment, gen, self._fill)
        feats = feats.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            k = self.cfg.train.inter_ctc_layer
            log_probs, out_lens, *inter = self.net(feats, batch.feat_lens, inter_layer=k) if k else self.net(feats, batch.feat_lens)
        targets = batch.targets.to(self.device, non_blocking=True)
        # CTC in float32 whatever the autocast precision, (T, batch, vocab) as the loss expects.
        losses = self.ctc(log_probs.transpose(0, 1).float(), targets, out_lens, batch.target_lens)
        if inter:  # intermediate CTC (Lee & Watanabe 2021): the same targets from a lower layer
            w = self.cfg.train.inter_ctc_weight
            losses = (1 - w) * losses + w * self.ctc(inter[0].transpose(0, 1).float(), targets, out_lens, batch.target_lens)
        if teacher_lp is not None:
            w = self.cfg.train.distill_weight
            losses = (1 - w) * losses + w * self._distill_losses(log_probs, out_lens, teacher_lp)
        return (losses / batch.target_lens.to(losses.device).clamp(min=1)).sum()

    def train_step(self, micro: list[Optional[Batch]]) -> Optional[tuple[float, float]]:
        """One optimizer step over this rank's micro-batches (None: all of its audio unreadable).

        Returns (loss, audio seconds) of the whole global batch, or None when a single process
        had nothing to train on.
        """
        t, env = self.cfg.train, self.env
        self.model.train()
        present = [b for b in micro if b is not None]
        if present:
            self._spare = present[-1]
        if not present and not env.distributed:
            return None
        # The mean is over the global batch's utterances: count them on every rank.
        n_local = sum(len(b.ids) for b in present)
        n_global = all_reduce_sum(torch.tensor(float(n_local), device=self.device), env).item()
        if n_global == 0:
            return None  # the same on every rank: nobody steps
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), device=self.device)
        seconds = 0.0
        for j, batch in enumerate(micro):
            weight = 1.0
            if batch is None:
                # Every rank must run forward and backward for DDP's gradient averaging: a rank
                # with nothing readable reruns a recent batch with zero weight.
                if self._spare is None:
                    raise RuntimeError(f"rank {env.rank}: every utterance of its first batch is unreadable")
                batch, weight = self._spare, 0.0
            # Seeding per micro-batch makes dropout and masks independent of where a run resumed.
            dropout_seed, mask_seed = step_seeds(t.seed, self.step, j, env.rank)
            torch.manual_seed(dropout_seed)
            gen = torch.Generator().manual_seed(mask_seed)
            # DDP averages gradients over ranks at the last micro-batch's backward only.
            last = j == len(micro) - 1
            with self.net.no_sync() if env.distributed and not last else contextlib.nullcontext():
                loss = self._loss_sum(batch, gen) / n_global
                if env.distributed:
                    loss = loss * env.world_size  # DDP divides the summed gradients by world_size
                if weight != 1.0:
                    loss = loss * weight
                self.scaler.scale(loss).backward()
            loss_sum += loss.detach() / env.world_size
            seconds += batch.seconds * weight
        self.scaler.unscale_(self.optimizer)  # clip true gradients, not scaled ones
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if not env.distributed:
            return loss_sum.item(), seconds
        stats = all_reduce_sum(torch.stack([loss_sum, torch.tensor(seconds, device=self.device)]), env)
        return float(stats[0]), float(stats[1])

    def _agree(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any (e.g. the time limit, read off each clock)."""
        if not self.env.distributed:
            return flag
        return all_reduce_sum(torch.tensor(float(flag), device=self.device), self.env).item() > 0

    def fit(self, on_epoch_end: Optional[Callable[[dict], bool]] = None) -> dict:
        """Train to ``train.epochs`` (or early stop / time limit). ``on_epoch_end(entry)``, if given,
        runs on rank 0 after each epoch's dev evaluation and checkpoint, with that epoch's history
        entry (``{"epoch", "step", "dev_wer", ...}``); returning True stops training there, as
        early stopping would (e.g. a hyper-parameter search pruning a poor run)."""
        t = self.cfg.train
        if self.env.is_main:
            from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

            writer = SummaryWriter(str(self.out / "tb"))
        else:
            writer = NullWriter()
        start = time.time()
        stop = False
        stream = self.data.stream(self.epoch, self.batch_in_epoch, t.epochs, self.cfg.data.num_workers,
                                  pin_memory=self.device.type == "cuda")
        speed = 0.0
        while self.epoch < t.epochs and not stop:
            n_batches = self.data.num_batches(self.epoch)
            bar = tqdm(total=n_batches, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{t.epochs}",
                       dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr,
                       disable=not self.env.is_main)
            seconds, t0 = 0.0, time.time()
            while self.batch_in_epoch < n_batches:
                group = [next(stream) for _ in range(min(t.accum_steps, n_batches - self.batch_in_epoch))]
                assert [(e, b) for e, b, _ in group] == [(self.epoch, self.batch_in_epoch + j) for j in range(len(group))]
                result = self.train_step([batch for _, _, batch in group])
                self.batch_in_epoch += len(group)
                bar.update(len(group))
                if result is None:
                    continue
                loss, batch_seconds = result
                self.step += 1
                seconds += batch_seconds
                speed = seconds / max(1e-6, time.time() - t0)
                bar.set_postfix(loss=f"{loss:.3f}", audio_s_per_s=f"{speed:.0f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}", refresh=False)
                if self.step % t.log_every == 0:
                    writer.add_scalar("train/loss", loss, self.step)
                    writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], self.step)
                    writer.add_scalar("train/audio_s_per_s", speed, self.step)
                if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                    self.save()
                if t.max_minutes and self._agree(time.time() - start > t.max_minutes * 60):
                    stop = True
                    break
            bar.close()
            if stop and self.batch_in_epoch < n_batches and self.env.is_main:
                print(f"stopping: time limit of {t.max_minutes} min reached", file=sys.stderr)
            stop = self.end_epoch(writer, speed) or stop
            self.save()
            if on_epoch_end is not None:  # rank 0 decides for every rank
                asked = bool(on_epoch_end(self.history[-1])) if self.env.is_main else False
                stop = broadcast_object(asked, self.env) or stop
        del stream  # stops data workers, if any
        if t.average_last > 1 and self.env.is_main:
            self.try_average(writer)
        writer.close()
        best = self.out / "best.pt"
        if self.env.is_main and not best.exists():  # no dev set: the last model is the result
            self.model.save(best)
        # Rank 0 alone evaluated; every rank returns its results (and waits for it here).
        self.best_wer = broadcast_object(self.best_wer, self.env)
        return {"best_dev_wer": self.best_wer, "epochs": self.epoch, "steps": self.step, "history": self.history}

    def epoch_files(self) -> list[Path]:
        return sorted((self.out / "epochs").glob("epoch*.pt"), key=lambda p: int(p.stem[5:]))

    def try_average(self, writer) -> None:
        """Average the last ``average_last`` epochs' weights (a cheap ensemble); keep the result as
        best.pt only if its dev WER beats the best single epoch."""
        files = self.epoch_files()[-self.cfg.train.average_last :]
        if len(files) < 2 or self.dev is None:
            return
        states = [load_checkpoint(f)["state_dict"] for f in files]
        avg = average_state_dicts(states)
        model = AcousticModel(self.cfg.features, self.cfg.model, self.vocab)
        model.load_state_dict(avg)
        model.to(self.device)
        wer, cer = evaluate_wer(model, self.dev)
        entry = {"averaged_epochs": [int(f.stem[5:]) for f in files], "dev_wer": round(wer, 2), "dev_cer": round(cer, 2)}
        model.save(self.out / "averaged.pt")
        if wer < self.best_wer:
            self.best_wer = wer
            model.save(self.out / "best.pt")
            entry["best"] = True
        writer.add_scalar("dev/wer_averaged", wer, self.step)
        print(json.dumps(entry), file=sys.stderr)
        with open(self.out / "history.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def end_epoch(self, writer, speed: float) -> bool:
        """Dev evaluation, best-model selection, early stopping (rank 0; the other ranks wait for
        its verdict). Returns True to stop."""
        t = self.cfg.train
        entry = {"epoch": self.epoch + 1, "step": self.step, "audio_s_per_s": round(speed, 1)}
        self.epoch += 1
        self.batch_in_epoch = 0
        if self.env.is_main:
            self._evaluate_epoch(entry, writer)
        self.best_wer, self.bad_epochs, self.history = broadcast_object((self.best_wer, self.bad_epochs, self.history), self.env)
        return bool(t.patience and self.bad_epochs >= t.patience)

    def _evaluate_epoch(self, entry: dict, writer) -> None:
        t = self.cfg.train
        if t.average_last > 1:  # keep the last N epochs' weights for averaging
            self.model.save(self.out / "epochs" / f"epoch{self.epoch}.pt")
            for old in self.epoch_files()[: -t.average_last]:
                old.unlink()
        if self.dev is not None:
            wer, cer = evaluate_wer(self.model, self.dev)
            entry.update(dev_wer=round(wer, 2), dev_cer=round(cer, 2))
            writer.add_scalar("dev/wer", wer, self.step)
            writer.add_scalar("dev/cer", cer, self.step)
            if wer < self.best_wer:
                self.best_wer, self.bad_epochs = wer, 0
                self.model.save(self.out / "best.pt")
                entry["best"] = True
            else:
                self.bad_epochs += 1
        self.history.append(entry)
        print(json.dumps(entry), file=sys.stderr)
        with open(self.out / "history.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
