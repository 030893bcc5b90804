"""The training loop: CTC loss, AdamW, warm-up + cosine decay, clipping, SpecAugment, dev WER,
best-checkpoint selection, early stopping, atomic checkpoints and exact resume.

Reads top to bottom: set-up, then ``for epoch: for batch: step``, then evaluation.
"""
from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config import Config, save_config
from ..data.dataset import BucketSampler, TrainData, UtteranceFeatures, collate, feature_stats, load_rows, spec_augment
from ..decoding.greedy import greedy_batch
from ..model import AcousticModel, atomic_save, load_checkpoint
from ..text import Vocabulary
from .metrics import error_rates

log = logging.getLogger(__name__)


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


@torch.no_grad()
def evaluate_wer(model: AcousticModel, feats: UtteranceFeatures, batch_size: int = 32) -> tuple[float, float]:
    """Greedy WER/CER (%) over every readable utterance of ``feats``."""
    model.eval()
    refs, hyps = [], []
    order = sorted(range(len(feats.rows)), key=lambda i: float(feats.rows[i].get("duration") or 0))
    for s in range(0, len(order), batch_size):
        idx = [i for i in order[s : s + batch_size] if feats.get(i) is not None]
        if not idx:
            continue
        b = collate([feats.get(i) for i in idx], [feats.rows[i]["text"] for i in idx], [str(i) for i in idx],
                    model.vocab, model.feature_cfg.frame_shift)
        lp, lens = model(b.feats, b.feat_lens)
        hyps += [h.text for h in greedy_batch(lp, lens, model.vocab, model.feature_cfg.frame_shift * model.cfg.stride)]
        refs += b.texts
    return error_rates(refs, hyps)


class Trainer:
    def __init__(self, cfg: Config, resume: bool = False) -> None:
        self.cfg = cfg
        t = cfg.train
        self.out = Path(t.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if t.threads:
            torch.set_num_threads(t.threads)
        seed_everything(t.seed)
        if not cfg.data.train:
            raise ValueError("data.train is empty: give at least one training manifest (data.train=[path.jsonl])")

        self.vocab = Vocabulary()
        rows = load_rows(cfg.data.train, cfg.data.min_duration, cfg.data.max_duration)
        self.data = TrainData(rows, cfg.features, cfg.augment, self.vocab,
                              BucketSampler([float(r.get("duration") or 1.0) for r in rows], t.batch_size, t.max_batch_seconds, t.seed),
                              t.seed, cfg.data.cache_features)
        self.dev = UtteranceFeatures(load_rows([cfg.data.dev]), cfg.features) if cfg.data.dev else None

        self.model = AcousticModel(cfg.features, cfg.model, self.vocab)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas,
                                           weight_decay=cfg.optim.weight_decay)
        self.steps_per_epoch = self.data.num_batches(0)
        total = self.steps_per_epoch * t.epochs
        o = cfg.optim
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_lambda(s, o.warmup_steps, total, o.min_lr_ratio))
        self.ctc = nn.CTCLoss(blank=self.vocab.blank, zero_infinity=True)
        # Progress counters; all of them are saved in checkpoints.
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best_wer, self.bad_epochs, self.history = float("inf"), 0, []

        if resume:
            self._load_state(self.out / "last.pt")
        else:
            save_config(cfg, self.out / "config.yaml")
            log.info("computing feature normalisation statistics over %d utterances", min(2000, len(rows)))
            self.model.set_normalization(*feature_stats(self.data.features, seed=t.seed))
        print(self.model.summary(), file=sys.stderr)
        print(f"train: {len(rows)} utterances, {sum(float(r.get('duration') or 0) for r in rows) / 3600:.2f} h, "
              f"{self.steps_per_epoch} batches/epoch", file=sys.stderr)

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
        }

    def save(self) -> None:
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
        print(f"resumed from {path}: epoch {self.epoch}, batch {self.batch_in_epoch}, step {self.step}", file=sys.stderr)

    # ------------------------------------------------------------------ training
    def train_step(self, batch, gen: torch.Generator) -> float:
        self.model.train()
        feats = batch.feats
        if self.cfg.augment.freq_masks or self.cfg.augment.time_masks:
            feats = spec_augment(feats.clone(), batch.feat_lens, self.cfg.augment, gen, self.model.feat_mean)
        log_probs, out_lens = self.model(feats, batch.feat_lens)
        # CTC in float32, (T, batch, vocab) as the loss expects.
        loss = self.ctc(log_probs.transpose(0, 1).float(), batch.targets, out_lens, batch.target_lens)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()

    def fit(self) -> dict:
        t = self.cfg.train
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

        writer = SummaryWriter(str(self.out / "tb"))
        start = time.time()
        stop = False
        while self.epoch < t.epochs and not stop:
            n_batches = self.data.num_batches(self.epoch)
            bar = tqdm(total=n_batches, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{t.epochs}",
                       dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr)
            seconds, t0 = 0.0, time.time()
            for b, batch in self.data.epoch(self.epoch, self.batch_in_epoch):
                # Seeding per step makes dropout and masks independent of where a run resumed.
                torch.manual_seed(hash((t.seed, self.step)) & 0x7FFFFFFF)
                gen = torch.Generator().manual_seed(hash((t.seed, self.step, 1)) & 0x7FFFFFFF)
                loss = self.train_step(batch, gen)
                self.step += 1
                self.batch_in_epoch = b + 1
                seconds += batch.seconds
                speed = seconds / max(1e-6, time.time() - t0)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", audio_s_per_s=f"{speed:.0f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}", refresh=False)
                if self.step % t.log_every == 0:
                    writer.add_scalar("train/loss", loss, self.step)
                    writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], self.step)
                    writer.add_scalar("train/audio_s_per_s", speed, self.step)
                if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                    self.save()
                if t.max_minutes and time.time() - start > t.max_minutes * 60:
                    stop = True
                    break
            bar.close()
            if stop and self.batch_in_epoch < n_batches:
                print(f"stopping: time limit of {t.max_minutes} min reached", file=sys.stderr)
            stop = self.end_epoch(writer, speed) or stop
            self.save()
        if t.average_last > 1:
            self.try_average(writer)
        writer.close()
        best = self.out / "best.pt"
        if not best.exists():  # no dev set: the last model is the result
            self.model.save(best)
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
        avg = {k: sum(s[k].double() for s in states).div(len(states)).to(states[0][k].dtype) for k in states[0]}
        model = AcousticModel(self.cfg.features, self.cfg.model, self.vocab)
        model.load_state_dict(avg)
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
        """Dev evaluation, best-model selection, early stopping. Returns True to stop."""
        t = self.cfg.train
        entry = {"epoch": self.epoch + 1, "step": self.step, "audio_s_per_s": round(speed, 1)}
        self.epoch += 1
        self.batch_in_epoch = 0
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
        return bool(t.patience and self.bad_epochs >= t.patience)
