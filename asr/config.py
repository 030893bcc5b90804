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
    # Look-ahead after the LSTM stack (unidirectional models): each output frame also sees the top
    # layer's next `lookahead` frames through a per-channel convolution added to it (DeepSpeech 2's
    # row convolution). It starts at zero, so a model fine-tuned from one without it starts equal
    # to it. Costs lookahead * stride * frame_shift of latency (20 ms a frame at stride 2).
    lookahead: int = 0

    def __post_init__(self) -> None:
        if not (1 <= self.stride <= self.stack):
            raise ValueError(f"need 1 <= stride <= stack, got stride={self.stride}, stack={self.stack}")
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(f"layers and hidden must be >= 1, got {self.layers}, {self.hidden}")
        if self.lookahead < 0 or (self.lookahead and self.bidirectional):
            raise ValueError(f"lookahead must be >= 0, and 0 for a bidirectional model (which sees all the future), got {self.lookahead}")


@dataclass
class DataConfig:
    train: list = field(default_factory=list)  # manifest paths
    # Per-manifest sampling weight (empty = all 1): each epoch uses every utterance of a manifest
    # floor(w) times, plus a fresh random round(frac(w) * n) of them drawn from (seed, epoch).
    # [1, 3]: the second corpus is seen 3 times per epoch; [1, 0.25]: a different quarter each epoch.
    weights: list = field(default_factory=list)
    dev: Optional[str] = None
    tokenizer: Optional[str] = None  # a SentencePiece model (`asr tokenizer train`); None = characters
    max_duration: float = 20.0  # seconds; longer utterances are skipped in training
    min_duration: float = 0.1
    cache_features: bool = True  # keep features in memory (small corpora)
    # Processes that read audio and compute features ahead of the training step (0 = in the
    # training process). Batches are the same either way; each worker keeps its own cache.
    num_workers: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.train, str):
            self.train = [self.train]
        if self.weights:
            if len(self.weights) != len(self.train):
                raise ValueError(f"data.weights needs one weight per data.train manifest: "
                                 f"{len(self.weights)} weights for {len(self.train)} manifests")
            if any(float(w) < 0 for w in self.weights) or not any(float(w) > 0 for w in self.weights):
                raise ValueError(f"data.weights must be >= 0 with at least one > 0, got {self.weights}")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0, got {self.num_workers}")


@dataclass
class AugmentConfig:
    speed_factors: list = field(default_factory=lambda: [0.9, 1.0, 1.1])
    freq_masks: int = 2
    freq_mask_width: int = 15
    time_masks: int = 2
    time_mask_width: int = 40
    time_mask_max_ratio: float = 0.1  # a time mask never exceeds this fraction of the utterance
    # Waveform augmentation (asr/data/augment.py), training batches only, after speed perturbation
    # and before features; an utterance that gets any is computed afresh, not from the feature cache.
    # Additive noise: the fraction of utterances that get it (0 = off), at an SNR drawn uniformly
    # from noise_snr_db. Noise comes from audio files under noise_dir (recursive; long files are
    # cut at a random offset, short ones looped), or is generated white / pink / brown if None.
    noise_prob: float = 0.0
    noise_dir: Optional[str] = None
    noise_snr_db: list = field(default_factory=lambda: [5.0, 20.0])
    # Reverberation with a synthetic room impulse response (direct path + early reflections +
    # exponential tail) whose RT60 (seconds) is drawn uniformly from reverb_rt60; the direct path
    # stays in place (targets do not move) and the level is kept. reverb_prob 0 = off.
    reverb_prob: float = 0.0
    reverb_rt60: list = field(default_factory=lambda: [0.2, 0.8])
    # Leading and trailing room tone: the fraction of utterances that get it (0 = off), each side
    # pad_seconds long (drawn uniformly, each side on its own) of coloured noise at a level drawn
    # from pad_level_dbfs (RMS, dB re full scale). Tightly trimmed clips (FSDD's digits) otherwise
    # teach a model that speech starts at the first frame; then a pause before a word, as any
    # microphone or recording has, turns "seven" into "even".
    pad_prob: float = 0.0
    pad_seconds: list = field(default_factory=lambda: [0.0, 0.6])
    pad_level_dbfs: list = field(default_factory=lambda: [-75.0, -45.0])
    # A narrow-band phone line, applied last: the fraction of utterances that get it (0 = off).
    # Voice band with edges drawn from 200-400 Hz and 3000-3700 Hz, 8 kHz sampling, G.711 8-bit
    # mu-law, then back to the model's rate: call recordings and 8 kHz files sound like this.
    telephone_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("noise_prob", "reverb_prob", "pad_prob", "telephone_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augment.{name} must be in [0, 1], got {getattr(self, name)}")
        for name, low_ok, rule in (("noise_snr_db", lambda lo: lo > float("-inf"), "low <= high"),
                                   ("reverb_rt60", lambda lo: lo > 0.0, "0 < low <= high"),
                                   ("pad_seconds", lambda lo: lo >= 0.0, "0 <= low <= high"),
                                   ("pad_level_dbfs", lambda lo: lo > float("-inf"), "low <= high")):
            r = getattr(self, name)
            try:  # numbers, also from strings (YAML 1.1 reads "1e-3" as one)
                lo, hi = [float(v) for v in r] if isinstance(r, (list, tuple)) else (None, None)
                ok = low_ok(lo) and lo <= hi < float("inf")
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"augment.{name} must be [low, high] with {rule}, got {r!r}")
            setattr(self, name, [lo, hi])


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
    batch_size: int = 16  # utterances per batch and per process (length-bucketed)
    # >0: dynamic batches instead: as many utterances as fit in this many seconds of *padded*
    # audio (count x longest, what memory and compute scale with), per process; batch_size is
    # then ignored. An utterance longer than the cap gets a batch of its own.
    max_batch_seconds: float = 0.0
    bucket_size: int = 0  # utterances per bucket; 0 -> 8 * batch_size
    checkpoint_every: int = 200  # steps; also at each epoch's end
    patience: int = 8  # epochs without dev improvement before stopping (0 = never)
    average_last: int = 0  # at the end, average the weights of the last N epochs; kept if dev WER improves
    max_minutes: float = 0.0  # stop after this wall time (0 = no limit)
    threads: int = 0  # torch intra-op threads (0 = torch default)
    log_every: int = 20
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N" | "auto" (CUDA when available); under torchrun, cuda = cuda:LOCAL_RANK
    amp: str = "none"  # mixed precision: "none" | "bf16" | "fp16" (CUDA only, with a gradient scaler); CTC stays fp32
    # Micro-batches per optimizer step: the step sees accum_steps x batch_size x processes
    # utterances (one length-sorted global batch, split), as one big batch would.
    accum_steps: int = 1
    # Fine-tuning: start from this checkpoint's weights and feature statistics (same features,
    # model shape and vocabulary required) instead of a random initialisation. Ignored on resume.
    init_from: Optional[str] = None
    # Intermediate CTC (Lee & Watanabe, 2021): k > 0 adds the CTC loss of layer k's output, read
    # through the shared output layer (no new parameters; inference unchanged), to the final
    # layer's: loss = (1 - w) * final + w * layer k. A regulariser for small corpora.
    inter_ctc_layer: int = 0
    inter_ctc_weight: float = 0.3
    # Knowledge distillation (a streaming student, a bidirectional teacher): a checkpoint with the
    # same features, output frame rate and vocabulary. loss = (1 - w) * CTC + w * KL(teacher ||
    # student) per frame, summed over the utterance and divided by its target length like CTC.
    # The student's frame t learns the teacher's frame t - delay: a unidirectional model emits
    # later than a bidirectional one, and asking it to spike at the teacher's frame asks for
    # context it has not heard yet.
    distill_from: Optional[str] = None
    distill_weight: float = 0.5
    distill_delay: int = 0  # output frames

    def __post_init__(self) -> None:
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"train.amp must be 'none', 'bf16' or 'fp16', got {self.amp!r}")
        if not isinstance(self.device, str) or not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise ValueError(f"train.device must be cpu, cuda, cuda:N or auto, got {self.device!r}")
        if self.accum_steps < 1:
            raise ValueError(f"train.accum_steps must be >= 1, got {self.accum_steps}")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.distill_weight < 1.0 or self.distill_delay < 0:
            raise ValueError(f"train.distill_weight must be in (0, 1) and distill_delay >= 0, "
                             f"got {self.distill_weight}, {self.distill_delay}")
        if self.inter_ctc_layer < 0 or not 0.0 < self.inter_ctc_weight < 1.0:
            raise ValueError(f"train.inter_ctc_layer must be >= 0 and inter_ctc_weight in (0, 1), "
                             f"got {self.inter_ctc_layer}, {self.inter_ctc_weight}")


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
    # Tokens less likely than this in a frame (natural log; never the frame's best) are not tried,
    # as pyctcdecode's token_min_logp; -inf = try every token that beam_size_token allows.
    token_min_logp: float = float("-inf")
    lm: Optional[str] = None  # ARPA or KenLM binary; word-level (with a lexicon) or character-level
    lm_unit: str = "auto"  # "auto" (read from an ARPA file) | "word" | "char"
    lm_weight: float = 0.5  # multiplies the LM's log10 probabilities (KenLM's unit)
    word_score: float = 0.0  # insertion bonus per word (per space for a character LM)
    sil_score: float = 0.0
    unk_score: float = float("-inf")  # lexicon decoding: score of out-of-lexicon words
    lexicon: Optional[str] = None  # word list (one per line); default: the word LM's vocabulary
    nbest: int = 1
    refine_word_ends: bool = True  # move word ends to where the sound stops (files, not streams)
    hotwords: list = field(default_factory=list)  # "word" or "phrase:boost"
    hotword_boost: float = 4.0  # default bonus (natural log) per hotword or phrase
    # A result (a file, a segment of a long file, a streamed utterance and its partials) whose
    # words' mean confidence is below this comes out empty: what a model writes for music or noise
    # is mostly letters it is unsure of. 0 = off (benchmarks/confidence_gate.py measures it).
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.decoder not in ("greedy", "beam"):
            raise ValueError(f"decoder must be 'greedy' or 'beam', got {self.decoder!r}")
        if self.lm_unit not in ("auto", "word", "char"):
            raise ValueError(f"lm_unit must be 'auto', 'word' or 'char', got {self.lm_unit!r}")
        if self.beam_size < 1 or self.nbest < 1:
            raise ValueError(f"beam_size and nbest must be >= 1, got {self.beam_size}, {self.nbest}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


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
