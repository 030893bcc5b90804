"""Configuration dataclasses, one per concern. YAML files in configs/ only fill them.

A YAML file has one section per dataclass (``features``, ``model``, ``data``, ``augment``,
``optim``, ``train``); command-line overrides are ``section.key=value`` (the value parsed as YAML).
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import yaml


@dataclass
class FeatureConfig:
    """Front end. Defaults: 80 log-mels, 25 ms window, 10 ms hop, 16 kHz (librosa-compatible)."""

    kind: str = "logmel"  # "logmel" | "mfcc"
    sample_rate: int = 16000
    n_fft: int = 400
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 80
    f_min: float = 0.0
    f_max: Optional[float] = None  # None -> sample_rate / 2
    n_mfcc: int = 13
    deltas: bool = False  # MFCC only: append delta and delta-delta
    log_floor: float = 1e-10

    def __post_init__(self) -> None:
        if self.kind not in ("logmel", "mfcc"):
            raise ValueError(f"features.kind must be 'logmel' or 'mfcc', got {self.kind!r}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must be <= n_fft ({self.n_fft})")
        if self.hop_length <= 0:
            raise ValueError(f"hop_length must be positive, got {self.hop_length}")

    @property
    def dim(self) -> int:
        """Feature dimension per frame."""
        if self.kind == "logmel":
            return self.n_mels
        return self.n_mfcc * (3 if self.deltas else 1)

    @property
    def frame_shift(self) -> float:
        return self.hop_length / self.sample_rate


@dataclass
class ModelConfig:
    """Frame stacking -> (Bi)LSTM stack -> Linear -> log-softmax."""

    stack: int = 3  # frames concatenated per step
    stride: int = 3  # subsampling factor
    hidden: int = 256
    layers: int = 3
    bidirectional: bool = True
    dropout: float = 0.2  # between LSTM layers and before the output layer
    proj_size: int = 0  # LSTM projection (0 = none)

    def __post_init__(self) -> None:
        if not (1 <= self.stride <= self.stack):
            raise ValueError(f"need 1 <= stride <= stack, got stride={self.stride}, stack={self.stack}")
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {self.layers}, {self.hidden}")


@dataclass
class DataConfig:
    train: list = field(default_factory=list)  # manifest paths
    dev: Optional[str] = None
    max_duration: float = 20.0  # seconds; longer utterances are skipped in training
    min_duration: float = 0.1
    cache_features: bool = True  # keep features in memory (small corpora)


@dataclass
class AugmentConfig:
    speed_factors: list = field(default_factory=lambda: [0.9, 1.0, 1.1])
    freq_masks: int = 2
    freq_mask_width: int = 15
    time_masks: int = 2
    time_mask_width: int = 40
    time_mask_max_ratio: float = 0.1  # a time mask never exceeds this fraction of the utterance


@dataclass
class OptimConfig:
    lr: float = 1.5e-3
    weight_decay: float = 1e-2
    betas: tuple = (0.9, 0.98)
    warmup_steps: int = 300
    min_lr_ratio: float = 0.02  # cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 5.0


@dataclass
class TrainConfig:
    out_dir: str = "exp/run"
    seed: int = 0
    epochs: int = 30
    batch_size: int = 16  # utterances per batch (length-bucketed)
    max_batch_seconds: float = 0.0  # >0: cap total audio seconds per batch instead
    bucket_size: int = 0  # utterances per bucket; 0 -> 8 * batch_size
    checkpoint_every: int = 200  # steps; also at each epoch's end
    patience: int = 8  # epochs without dev improvement before stopping (0 = never)
    average_last: int = 0  # at the end, average the weights of the last N epochs; kept if dev WER improves
    max_minutes: float = 0.0  # stop after this wall time (0 = no limit)
    threads: int = 0  # torch intra-op threads (0 = torch default)
    log_every: int = 20
    device: str = "cpu"


@dataclass
class DecodeConfig:
    """CTC decoding. ``beam`` uses flashlight-text's C++ decoder (KenLM built in)."""

    decoder: str = "greedy"  # "greedy" | "beam"
    beam_size: int = 32
    # Pruning: tokens tried per frame and how far below the best a hypothesis may fall. On AN4 dev
    # (5, 12) gave the same WER as (all, 25) at a quarter of the time (benchmarks/decoding.py).
    beam_size_token: int = 5  # 0 = all
    beam_threshold: float = 12.0
    # Runs of frames whose blank probability is at least this shrink to their first frame before
    # the search (same transcripts on AN4, half the frames); 0 = search every frame.
    blank_skip: float = 0.999
    lm: Optional[str] = None  # ARPA or KenLM binary; word-level (with a lexicon) or character-level
    lm_unit: str = "auto"  # "auto" (read from an ARPA file) | "word" | "char"
    lm_weight: float = 0.5  # multiplies the LM's log10 probabilities (KenLM's unit)
    word_score: float = 0.0  # insertion bonus per word (per space for a character LM)
    sil_score: float = 0.0
    unk_score: float = float("-inf")  # lexicon decoding: score of out-of-lexicon words
    lexicon: Optional[str] = None  # word list (one per line); default: the word LM's vocabulary
    nbest: int = 1
    hotwords: list = field(default_factory=list)  # "word" or "phrase:boost"
    hotword_boost: float = 4.0  # default bonus (natural log) per hotword or phrase

    def __post_init__(self) -> None:
        if self.decoder not in ("greedy", "beam"):
            raise ValueError(f"decoder must be 'greedy' or 'beam', got {self.decoder!r}")
        if self.lm_unit not in ("auto", "word", "char"):
            raise ValueError(f"lm_unit must be 'auto', 'word' or 'char', got {self.lm_unit!r}")
        if self.beam_size < 1 or self.nbest < 1:
            raise ValueError(f"beam_size and nbest must be >= 1, got {self.beam_size}, {self.nbest}")


SECTIONS = {
    "features": FeatureConfig,
    "model": ModelConfig,
    "data": DataConfig,
    "augment": AugmentConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
}


@dataclass
class Config:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown config sections {sorted(unknown)}; expected {sorted(SECTIONS)}")
        return cls(**{name: build(SECTIONS[name], d.get(name) or {}) for name in SECTIONS})


def build(klass: type, values: dict) -> Any:
    """Instantiate a config dataclass, rejecting unknown keys with a helpful message."""
    names = {f.name for f in fields(klass)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {klass.__name__} keys {sorted(unknown)}; valid keys: {sorted(names)}")
    values = dict(values)
    for f in fields(klass):
        # PyYAML follows YAML 1.1, where "1e-3" (no dot, or an unsigned exponent) is a string.
        if f.type in ("float", "Optional[float]") and isinstance(values.get(f.name), str):
            try:
                values[f.name] = float(values[f.name])
            except ValueError:
                raise ValueError(f"{klass.__name__}.{f.name} must be a number, got {values[f.name]!r}") from None
    if "betas" in values:
        values["betas"] = tuple(values["betas"])
    return klass(**values)


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` overrides to a nested dict (values parsed as YAML)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or parts[0] not in SECTIONS:
            raise ValueError(f"override {item!r} must look like section.key=value, section one of {sorted(SECTIONS)}")
        d.setdefault(parts[0], {})[parts[1]] = yaml.safe_load(raw)
    return d


def load_config(path: Optional[str | Path] = None, overrides: Optional[list[str]] = None) -> Config:
    d: dict = {}
    if path is not None:
        with open(path, encoding="utf-8") as f:
            d = yaml.safe_load(f) or {}
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a mapping of sections, got {type(d).__name__}")
    return Config.from_dict(apply_overrides(d, overrides or []))


def save_config(cfg: Config, path: str | Path) -> None:
    d = cfg.to_dict()
    d["optim"]["betas"] = list(d["optim"]["betas"])
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(d, f, sort_keys=False)


def replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)
