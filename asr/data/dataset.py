"""Training data: utterances -> (features, token ids), length-bucketed batches, augmentation.

Every random choice is drawn from a generator seeded by (seed, epoch, batch index), so a run
resumed from a checkpoint sees exactly the batches and augmentations the uninterrupted run saw.
"""
from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from ..audio import AudioError, load_audio, resample
from ..config import AugmentConfig, FeatureConfig
from ..features import compute_features
from ..text import Vocabulary, normalize_text
from .augment import WaveformAugment
from .manifest import read_manifest, segment

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

    def pin_memory(self) -> "Batch":
        """A copy in page-locked memory (DataLoader's pin_memory thread calls this), for fast,
        asynchronous copies to a GPU."""
        return dataclasses.replace(self, feats=self.feats.pin_memory(), feat_lens=self.feat_lens.pin_memory(),
                                   targets=self.targets.pin_memory(), target_lens=self.target_lens.pin_memory())


def load_rows(manifests: Sequence[str], min_duration: float = 0.0, max_duration: float = float("inf")) -> list[dict]:
    """Read and filter manifests (duration bounds, empty transcripts), texts normalised. An empty
    transcript is kept on a row marked ``"nonspeech": true`` (audio that should decode to nothing,
    ``asr.data.nonspeech``)."""
    rows = []
    for m in manifests:
        for r in read_manifest(m):
            r["text"] = normalize_text(r["text"])
            d = float(r.get("duration") or 0.0)
            if d and not (min_duration <= d <= max_duration):
                continue
            if not r["text"] and not r.get("nonspeech"):
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
    """Features for (row index, speed factor), optionally cached in memory.

    ``tail`` (samples) goes after each utterance's audio, as the recognizer gives a unidirectional
    model its tail silence (``asr.model.tail_silence``): training's dev WER is then the WER that
    ``asr evaluate`` reports for the same checkpoint.
    """

    def __init__(self, rows: list[dict], cfg: FeatureConfig, cache: bool = True,
                 tail: Optional[np.ndarray] = None) -> None:
        self.rows, self.cfg, self.cache = rows, cfg, cache
        self.tail = tail if tail is not None else np.zeros(0, np.float32)
        self._cache: dict[tuple[int, float], Optional[torch.Tensor]] = {}

    def get(self, i: int, speed: float = 1.0,
            transform: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Optional[torch.Tensor]:
        """(T, dim) features, or None if the audio is unreadable (reported once).

        ``transform`` (waveform augmentation, applied after speed perturbation) makes the features
        one-off: they are computed afresh and never cached.
        """
        key = (i, speed)
        if key in self._cache and (transform is None or self._cache[key] is None):
            return self._cache[key]
        try:
            audio = speed_perturb(load_audio(self.rows[i]["audio"], self.cfg.sample_rate, *segment(self.rows[i])), speed, self.cfg.sample_rate)
            if transform is not None:
                audio = transform(audio)
            if len(self.tail):
                audio = np.concatenate([audio, self.tail])
            feats = compute_features(torch.from_numpy(audio), self.cfg)
        except AudioError as e:
            log.warning("skipping unreadable utterance %s: %s", self.rows[i].get("id"), e)
            feats = None
        if feats is None or (self.cache and transform is None):
            self._cache[key] = feats
        return feats


class BucketSampler:
    """Length-bucketed batches, deterministic from (seed, epoch), shared out over processes.

    Per epoch: (1) the utterances, each corpus repeated or sub-sampled by its weight; (2) sorted
    by duration with a 10% jitter (so batches differ between epochs); (3) cut into *global*
    batches, each holding ``groups = world_size x accum_steps`` shards of at most ``batch_size``
    utterances (or ``max_batch_seconds`` of padded audio); (4) the global batches shuffled;
    (5) each dealt into its shards by interleaving (shard s takes items s, s + groups, ...), so all
    shards of a step have similar lengths and no rank waits long for another. Rank r's
    micro-batches for a step are shards r, r + world_size, ... (one per accumulation step).

    Every rank therefore gets a disjoint share of each step's utterances and the same number of
    batches, and one optimizer step sees what a single process with a ``groups`` times larger
    batch would. With one process and no accumulation this is plain bucketing (batch k is global
    batch k). ``batches(epoch)`` is a pure function, so resuming at batch k only needs k.
    """

    def __init__(self, durations: Sequence[float], batch_size: int, max_batch_seconds: float = 0.0, seed: int = 0,
                 rank: int = 0, world_size: int = 1, accum_steps: int = 1,
                 corpus: Optional[Sequence[int]] = None, weights: Optional[Sequence[float]] = None) -> None:
        self.durations = list(durations)
        self.batch_size, self.max_batch_seconds, self.seed = batch_size, max_batch_seconds, seed
        self.rank, self.world_size, self.accum_steps = rank, world_size, accum_steps
        if batch_size < 1 or max_batch_seconds < 0:
            raise ValueError(f"need batch_size >= 1 and max_batch_seconds >= 0, got {batch_size}, {max_batch_seconds}")
        if not (0 <= rank < world_size) or accum_steps < 1:
            raise ValueError(f"need 0 <= rank < world_size and accum_steps >= 1, got rank={rank}, "
                             f"world_size={world_size}, accum_steps={accum_steps}")
        # Per-corpus weights: members[c] lists corpus c's utterances.
        self.weights = None if weights is None else [float(w) for w in weights]
        if self.weights is not None:
            corpus = list(corpus if corpus is not None else [0] * len(self.durations))
            if len(corpus) != len(self.durations):
                raise ValueError(f"corpus ids ({len(corpus)}) and durations ({len(self.durations)}) differ in length")
            self.members = [[i for i, c in enumerate(corpus) if c == k] for k in range(len(self.weights))]
            if any(c < 0 or c >= len(self.weights) for c in corpus):
                raise ValueError(f"corpus ids must be in [0, {len(self.weights)}), got {sorted(set(corpus))}")

    @property
    def groups(self) -> int:
        """Shards per global batch: one per (process, accumulation step)."""
        return self.world_size * self.accum_steps

    def epoch_items(self, epoch: int) -> list[int]:
        """The utterances of an epoch, repeats included: a corpus of weight w contributes each of
        its utterances floor(w) times, plus round(frac(w) * n) of them drawn without replacement
        from a generator seeded by (seed, epoch)."""
        if self.weights is None:
            return list(range(len(self.durations)))
        rng = random.Random(hash((self.seed, epoch, 2)) & 0xFFFFFFFF)
        items: list[int] = []
        for members, w in zip(self.members, self.weights):
            whole = int(w)
            items += members * whole
            extra = round((w - whole) * len(members))
            if extra:
                items += sorted(rng.sample(members, extra))
        if not items:
            raise ValueError(f"data.weights {self.weights} leave no utterance in epoch {epoch}")
        return items

    def _fits(self, n: int, longest: float) -> bool:
        """Whether a global batch of n utterances, the longest ``longest`` seconds, fits."""
        per_shard = -(-n // self.groups)
        if self.max_batch_seconds:
            return per_shard * longest <= self.max_batch_seconds
        return per_shard <= self.batch_size

    def global_batches(self, epoch: int) -> list[list[int]]:
        """The epoch's global batches (utterance indices), in training order; identical on every rank."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        # Jitter the sort so batches are not identical every epoch.
        order = sorted(self.epoch_items(epoch), key=lambda i: self.durations[i] * (1 + 0.1 * rng.random()))
        batches, cur, longest = [], [], 0.0
        for i in order:
            d = self.durations[i]
            # A batch closes when the next utterance would not fit, but never before every
            # shard has one (a lone utterance longer than max_batch_seconds still trains).
            if len(cur) >= self.groups and not self._fits(len(cur) + 1, max(longest, d)):
                batches.append(cur)
                cur, longest = [], 0.0
            cur.append(i)
            longest = max(longest, d)
        if cur:
            batches.append(cur)
        rng.shuffle(batches)
        # Only the last (shortest) batch can hold fewer utterances than shards: then it is dropped.
        return [b for b in batches if len(b) >= self.groups]

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's micro-batches for the epoch: accum_steps consecutive ones per optimizer step."""
        g, w = self.groups, self.world_size
        return [gb[a * w + self.rank :: g] for gb in self.global_batches(epoch) for a in range(self.accum_steps)]

    def global_index(self, b: int) -> int:
        """A number for this rank's batch b that no other rank's batch has (b itself in one process)."""
        return b * self.world_size + self.rank


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
        self.waveform_aug = WaveformAugment(aug, feature_cfg.sample_rate)  # noise / reverberation

    def epoch(self, epoch: int, start_batch: int = 0, step: int = 1) -> Iterator[tuple[int, Optional[Batch]]]:
        """(b, batch) for batches start_batch, start_batch + step, ... of the epoch; a batch whose
        every utterance is unreadable comes as None (so DataLoader workers and DDP ranks keep in step)."""
        batches = self.sampler.batches(epoch)
        for b in range(start_batch, len(batches), step):
            rng = random.Random(hash((self.seed, epoch, self.sampler.global_index(b))) & 0xFFFFFFFF)
            feats, texts, ids = [], [], []
            for i in batches[b]:
                speed = rng.choice(self.aug.speed_factors) if self.aug.speed_factors else 1.0
                f = self.features.get(i, speed, self.waveform_aug.draw(rng))
                if f is None:
                    continue
                feats.append(f)
                texts.append(self.rows[i]["text"])
                ids.append(self.rows[i].get("id", str(i)))
            yield b, (collate(feats, texts, ids, self.vocab, self.cfg.frame_shift) if feats else None)

    def num_batches(self, epoch: int) -> int:
        return len(self.sampler.batches(epoch))

    def stream(self, start_epoch: int, start_batch: int, end_epoch: int, num_workers: int = 0,
               pin_memory: bool = False) -> Iterator[tuple[int, int, Optional[Batch]]]:
        """(epoch, b, batch) from (start_epoch, start_batch) to the end of training, in order.

        ``num_workers`` > 0 makes the batches in DataLoader worker processes, ahead of the
        training step; they are the same batches (each a pure function of seed, epoch and index).
        """
        source = BatchStream(self, start_epoch, start_batch, end_epoch)
        if num_workers == 0:
            return iter(source)
        loader = torch.utils.data.DataLoader(source, batch_size=None, num_workers=num_workers, collate_fn=_identity,
                                             pin_memory=pin_memory, prefetch_factor=4)
        return iter(loader)


def _identity(x):
    return x


class BatchStream(torch.utils.data.IterableDataset):
    """The run's batches as one sequence across epochs, for a DataLoader.

    With N workers, worker w makes positions w, w + N, ... of the whole sequence (a batch may be
    None, so every position yields exactly one item); the DataLoader takes one item from each
    worker in turn, which restores the in-process order exactly. One sequence for the whole run
    (not one loader per epoch) keeps workers, and their feature caches, alive across epochs.
    """

    def __init__(self, data: TrainData, start_epoch: int, start_batch: int, end_epoch: int) -> None:
        self.data, self.start_epoch, self.start_batch, self.end_epoch = data, start_epoch, start_batch, end_epoch

    def __iter__(self) -> Iterator[tuple[int, int, Optional[Batch]]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        position = 0  # of this epoch's first batch in the run's sequence
        for e in range(self.start_epoch, self.end_epoch):
            first = self.start_batch if e == self.start_epoch else 0
            for b, batch in self.data.epoch(e, first + (worker - position) % workers, workers):
                yield e, b, batch
            position += self.data.num_batches(e) - first


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
