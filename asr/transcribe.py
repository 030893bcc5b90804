"""Files or arrays -> text: the loaded-model API (``asr.load_model(path).transcribe(...)``)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .audio import load_audio, prepare_array
from .decoding.greedy import greedy_decode
from .decoding.types import Hypothesis
from .features import compute_features
from .model import AcousticModel

AudioInput = Union[str, os.PathLike, np.ndarray, torch.Tensor]


@dataclass
class Transcript:
    text: str
    hypothesis: Hypothesis
    duration: float  # seconds of audio
    compute_seconds: float


class Recognizer:
    """An acoustic model with its front end and decoder: audio in, text out."""

    def __init__(self, model: AcousticModel, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = device

    @property
    def sample_rate(self) -> int:
        return self.model.feature_cfg.sample_rate

    @property
    def frame_seconds(self) -> float:
        """Duration of one output frame (after subsampling)."""
        return self.model.feature_cfg.frame_shift * self.model.cfg.stride

    def load(self, audio: AudioInput, sample_rate: Optional[int] = None) -> np.ndarray:
        """A path, or an array with its sample rate -> mono float32 at the model rate."""
        if isinstance(audio, (str, os.PathLike)):
            return load_audio(audio, self.sample_rate)
        if sample_rate is None:
            raise ValueError("an array needs its sample_rate (e.g. transcribe(samples, sample_rate=16000))")
        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
        return prepare_array(audio, sample_rate, self.sample_rate)

    @torch.inference_mode()
    def log_probs(self, audio: np.ndarray) -> torch.Tensor:
        """(samples,) at the model rate -> (T', vocab) log-probs."""
        feats = compute_features(torch.from_numpy(audio), self.model.feature_cfg).to(self.device)
        lp, lens = self.model(feats[None], torch.tensor([feats.shape[0]]))
        return lp[0, : int(lens[0])].cpu()

    def transcribe(self, audio: AudioInput, sample_rate: Optional[int] = None) -> Transcript:
        samples = self.load(audio, sample_rate)
        t0 = time.perf_counter()
        hyp = greedy_decode(self.log_probs(samples), self.model.vocab, self.frame_seconds)
        return Transcript(hyp.text, hyp, len(samples) / self.sample_rate, time.perf_counter() - t0)

    @torch.inference_mode()
    def transcribe_batch(self, audios: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Several model-rate arrays in one padded batch (same results as one by one)."""
        feats = [compute_features(torch.from_numpy(a), self.model.feature_cfg) for a in audios]
        lens = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(self.device)
        lp, out_lens = self.model(padded, lens)
        return [greedy_decode(lp[i, : int(out_lens[i])].cpu(), self.model.vocab, self.frame_seconds) for i in range(len(audios))]


def load_model(path: Union[str, os.PathLike], device: str = "cpu") -> Recognizer:
    """Load a checkpoint (a .pt file or a training folder) without executing code from it."""
    return Recognizer(AcousticModel.load(path, map_location=device), device)
