"""Training data: utterances -> (features, token ids), length-bucketed batches, augmentation.

Every random choice is drawn from a generator seeded by (seed, epoch, batch index), so a run
resumed from a checkpoint sees exactly the batches and augmentations the uninterrupted run saw.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from ..audio import AudioError, load_audio, resample
from ..config import AugmentConfig, FeatureConfig
from ..features import compute_features
from ..text import Vocabulary, normalize_text
from .manifest import read_manifest

log = logging.getLogger(__name__)


@dataclass
class Batch:
    feats: torch.Tensor  # (batch, T, feat_dim)
    feat_lens: torch.Tensor  # (batch,)
    targets: torch.Tensor  # (sum of target lengths,) concatenated token ids
    target_lens: torch.Tensor  # (batch,)
    texts: list[str]
    ids: list[str]
    seconds: float  # total audio in the batch


def load_rows(manifests: Sequence[str], min_duration: float = 0.0, max_duration: float = float("inf")) -> list[dict]:
    """Read and filter manifests (duration bounds, empty transcripts), texts normalised."""
    rows = []
    for m in manifests:
        for r in read_manifest(m):
            r["text"] = normalize_text(r["text"])
            d = float(r.get("duration") or 0.0)
            if d and not (min_duration <= d <= max_duration):
                continue
            if not r["text"]:
                continue
            rows.append(r)
    if not rows:
        raise ValueError(f"no usable utterances in {list(manifests)}")
    return rows


def speed_perturb(audio: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Play ``factor`` times faster (pitch moves too, as in Kaldi's speed perturbation)."""
    if factor == 1.0:
        return audio
    return resample(audio, sample_rate, int(round(sample_rate / factor)))


class UtteranceFeatures:
    """Features for (row index, speed factor), optionally cached in memory."""

    def __init__(self, rows: list[dict], cfg: FeatureConfig, cache: bool = True) -> None:
        self.rows, self.cfg, self.cache = rows, cfg, cache
        self._cache: dict[tuple[int, float], Optional[torch.Tensor]] = {}

    def get(self, i: int, speed: float = 1.0) -> Optional[torch.Tensor]:
        """(T, dim) features, or None if the audio is unreadable (reported once)."""
        key = (i, speed)
        if key in self._cache:
            return self._cache[key]
        try:
            audio = load_audio(self.rows[i]["audio"], self.cfg.sample_rate)
            feats = compute_features(torch.from_numpy(speed_perturb(audio, speed, self.cfg.sample_rate)), self.cfg)
        except AudioError as e:
            log.warning("skipping unreadable utterance %s: %s", self.rows[i].get("id"), e)
            feats = None
        if self.cache or feats is None:
            self._cache[key] = feats
        return feats


class BucketSampler:
    """Batches of similar length: sort by duration, cut into batches, shuffle the batch order.

    Deterministic given (seed, epoch); ``batches(epoch)`` is a pure function, so resuming at
    batch k of an epoch only needs k.
    """

    def __init__(self, durations: Sequence[float], batch_size: int, max_batch_seconds: float = 0.0, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.durations = list(durations)
        self.batch_size, self.max_batch_seconds, self.seed = batch_size, max_batch_seconds, seed
        self.rank, self.world_size = rank, world_size

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        # Jitter the sort so batches are not identical every epoch.
        order = sorted(range(len(self.durations)), key=lambda i: self.durations[i] * (1 + 0.1 * rng.random()))
        batches, cur, cur_s = [], [], 0.0
        for i in order:
            d = self.durations[i]
            full = len(cur) >= self.batch_size if not self.max_batch_seconds else (cur_s + d > self.max_batch_seconds)
            if cur and full:
                batches.append(cur)
                cur, cur_s = [], 0.0
            cur.append(i)
            cur_s += d
        if cur:
            batches.append(cur)
        rng.shuffle(batches)
        if self.world_size > 1:  # every rank gets the same number of batches
            n = len(batches) // self.world_size * self.world_size
            batches = batches[self.rank : n : self.world_size]
        return batches


def spec_augment(feats: torch.Tensor, lens: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator, fill: torch.Tensor) -> torch.Tensor:
    """SpecAugment frequency and time masks, in place. feats: (batch, T, dim); masked cells get
    ``fill`` (the feature mean, i.e. zero after normalisation)."""
    b, _, dim = feats.shape
    for i in range(b):
        n = int(lens[i])
        for _ in range(cfg.freq_masks):
            w = int(torch.randint(0, cfg.freq_mask_width + 1, (1,), generator=gen))
            f0 = int(torch.randint(0, max(1, dim - w), (1,), generator=gen))
            feats[i, :n, f0 : f0 + w] = fill[f0 : f0 + w]
        max_w = min(cfg.time_mask_width, int(cfg.time_mask_max_ratio * n))
        for _ in range(cfg.time_masks):
            if max_w < 1:
                break
            w = int(torch.randint(0, max_w + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, max(1, n - w), (1,), generator=gen))
            feats[i, t0 : t0 + w, :] = fill
    return feats


def collate(feats: list[torch.Tensor], texts: list[str], ids: list[str], vocab: Vocabulary, frame_shift: float) -> Batch:
    lens = torch.tensor([f.shape[0] for f in feats])
    padded = torch.zeros(len(feats), int(lens.max()), feats[0].shape[1])
    for i, f in enumerate(feats):
        padded[i, : f.shape[0]] = f
    tokens = [vocab.encode(t) for t in texts]
    return Batch(
        feats=padded,
        feat_lens=lens,
        targets=torch.tensor([t for ts in tokens for t in ts], dtype=torch.long),
        target_lens=torch.tensor([len(t) for t in tokens]),
        texts=texts,
        ids=ids,
        seconds=float(lens.sum()) * frame_shift,
    )


class TrainData:
    """Yields augmented training batches for an epoch, resumable at any batch."""

    def __init__(self, rows: list[dict], feature_cfg: FeatureConfig, aug: AugmentConfig, vocab: Vocabulary,
                 sampler: BucketSampler, seed: int, cache: bool = True) -> None:
        self.rows, self.cfg, self.aug, self.vocab, self.sampler, self.seed = rows, feature_cfg, aug, vocab, sampler, seed
        self.features = UtteranceFeatures(rows, feature_cfg, cache)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[int, Batch]]:
        batches = self.sampler.batches(epoch)
        for b in range(start_batch, len(batches)):
            rng = random.Random(hash((self.seed, epoch, b)) & 0xFFFFFFFF)
            feats, texts, ids = [], [], []
            for i in batches[b]:
                speed = rng.choice(self.aug.speed_factors) if self.aug.speed_factors else 1.0
                f = self.features.get(i, speed)
                if f is None:
                    continue
                feats.append(f)
                texts.append(self.rows[i]["text"])
                ids.append(self.rows[i].get("id", str(i)))
            if feats:
                yield b, collate(feats, texts, ids, self.vocab, self.cfg.frame_shift)

    def num_batches(self, epoch: int) -> int:
        return len(self.sampler.batches(epoch))


def feature_stats(features: UtteranceFeatures, max_utts: int = 2000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std over (a sample of) the training set, in float64."""
    idx = list(range(len(features.rows)))
    random.Random(seed).shuffle(idx)
    total, sq, n = None, None, 0
    for i in idx[:max_utts]:
        f = features.get(i, 1.0)
        if f is None:
            continue
        f = f.double()
        total = f.sum(0) if total is None else total + f.sum(0)
        sq = (f * f).sum(0) if sq is None else sq + (f * f).sum(0)
        n += f.shape[0]
    if n == 0:
        raise ValueError("no readable training audio to compute normalisation statistics")
    mean = total / n
    std = (sq / n - mean * mean).clamp(min=1e-10).sqrt()
    return mean.float(), std.float()
