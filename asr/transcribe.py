"""Files or arrays -> text: the loaded-model API (``asr.load_model(path).transcribe(...)``)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch

from .audio import audio_info, load_audio, prepare_array, stream_audio
from .config import DecodeConfig
from .decoding import make_decoder
from .decoding.timing import clip_words, refine_word_ends
from .decoding.types import Hypothesis, Word, doubtful
from .segment import SegmenterConfig, segment_stream
from .features import compute_features
from .level import boost_quiet
from .model import AcousticModel

AudioInput = Union[str, os.PathLike, np.ndarray, torch.Tensor]


@dataclass
class Transcript:
    text: str
    hypothesis: Hypothesis
    duration: float  # seconds of audio
    compute_seconds: float
    nbest: list[Hypothesis] = field(default_factory=list)  # best first; [hypothesis] for greedy


@dataclass
class Segment:
    """A stretch of speech; times in seconds of the original audio."""

    start: float
    end: float
    text: str
    words: list[Word]
    nbest: list[Hypothesis] = field(default_factory=list)


class Recognizer:
    """An acoustic model with its front end and decoder: audio in, text out."""

    def __init__(self, model: AcousticModel, device: str = "cpu", decode: Optional[DecodeConfig] = None) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.decode_cfg = decode or DecodeConfig()
        self.decoder = make_decoder(model.vocab, self.decode_cfg, self.frame_seconds)

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

    def model_input(self, audio: np.ndarray) -> np.ndarray:
        """What the front end hears: quiet audio raised, and for a unidirectional model a little
        silence after the end so that it can emit its last letters (``AcousticModel.tail_padding``)."""
        return np.concatenate([boost_quiet(audio), self.model.tail_silence()])

    @torch.inference_mode()
    def log_probs(self, audio: np.ndarray) -> torch.Tensor:
        """(samples,) at the model rate -> (T', vocab) log-probs (T' includes any tail padding)."""
        feats = compute_features(torch.from_numpy(self.model_input(audio)), self.model.feature_cfg).to(self.device)
        lp, lens = self.model(feats[None], torch.tensor([feats.shape[0]]))
        return lp[0, : int(lens[0])].cpu()

    def decode(self, log_probs: torch.Tensor, samples: np.ndarray, offset: float = 0.0) -> list[Hypothesis]:
        """The decoder's n-best for ``samples`` (starting at ``offset`` s), word ends refined
        with the audio's energy (``DecodeConfig.refine_word_ends``; see ``asr.decoding.timing``)."""
        nbest = self.decoder.decode(log_probs, offset=offset)
        if self.decode_cfg.refine_word_ends:
            for h in nbest:
                h.words = refine_word_ends(h.words, samples, self.sample_rate, offset)
        if self.model.tail_padding:  # a letter emitted in the padding belongs to the audio's end
            end = offset + len(samples) / self.sample_rate
            for h in nbest:
                h.words = clip_words(h.words, end)
        if doubtful(nbest[0].words, self.decode_cfg.min_confidence):  # say nothing
            return [Hypothesis("", [], nbest[0].score, [])]
        return nbest

    def transcribe(self, audio: AudioInput, sample_rate: Optional[int] = None) -> Transcript:
        samples = self.load(audio, sample_rate)
        t0 = time.perf_counter()
        nbest = self.decode(self.log_probs(samples), samples)
        return Transcript(nbest[0].text, nbest[0], len(samples) / self.sample_rate, time.perf_counter() - t0, nbest)

    def segments(self, audio: AudioInput, sample_rate: Optional[int] = None,
                 segmenter: Optional[SegmenterConfig] = None) -> Iterator[Segment]:
        """Transcribe audio of any length lazily, segment by segment.

        Audio up to ``segmenter.max_seconds`` is one segment; longer audio is read in blocks and
        cut at pauses (see ``asr.segment``), so memory stays bounded whatever the length.
        """
        cfg = segmenter or SegmenterConfig()
        if isinstance(audio, (str, os.PathLike)):
            sr, frames, _ = audio_info(audio)
            if frames > 0 and frames / sr <= cfg.max_seconds:
                blocks = None
                samples = load_audio(audio, self.sample_rate)
            else:
                blocks = stream_audio(audio, self.sample_rate, block_seconds=10.0)
        else:
            samples = self.load(audio, sample_rate)
            blocks = None if len(samples) <= cfg.max_seconds * self.sample_rate else [samples]
        if blocks is None:
            nbest = self.decode(self.log_probs(samples), samples)
            yield Segment(0.0, len(samples) / self.sample_rate, nbest[0].text, nbest[0].words, nbest)
            return
        for seg in segment_stream(blocks, self.sample_rate, cfg):
            nbest = self.decode(self.log_probs(seg.audio), seg.audio, offset=seg.start)
            yield Segment(seg.start, seg.end, nbest[0].text, nbest[0].words, nbest)

    @torch.inference_mode()
    def transcribe_batch(self, audios: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Several model-rate arrays in one padded batch (same results as one by one)."""
        feats = [compute_features(torch.from_numpy(self.model_input(a)), self.model.feature_cfg) for a in audios]
        lens = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(self.device)
        lp, out_lens = self.model(padded, lens)
        return [self.decode(lp[i, : int(out_lens[i])].cpu(), audios[i])[0] for i in range(len(audios))]


def load_model(path: Optional[Union[str, os.PathLike]] = None, device: str = "cpu",
               decode: Optional[DecodeConfig] = None) -> Recognizer:
    """Load a checkpoint (a .pt file or a training folder) without executing code from it;
    without ``path``, the bundled offline English model.

    ``decode`` chooses the decoder (greedy by default; beam search with an LM, hotwords, n-best).
    """
    from .pretrained import resolve_model

    return Recognizer(AcousticModel.load(resolve_model(path, "offline"), map_location=device), device, decode)


# The second line: containers that need ffmpeg (asr.audio), found in directories all the same so
# that a missing ffmpeg is reported per file rather than the files passed over in silence.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".sph", ".aiff", ".aif", ".au",
                    ".m4a", ".aac", ".mp4", ".webm", ".wma", ".mka", ".mkv", ".mov")


def expand_inputs(items: Sequence[str]) -> list[str]:
    """Files as given, directories searched recursively for audio, glob patterns expanded.

    Order is kept (sorted within a directory or pattern); a path that does not exist is kept so
    that it is reported as an error rather than silently dropped.
    """
    import glob

    out: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
        elif not p.exists() and any(c in item for c in "*?["):
            found = sorted(f for f in glob.glob(item, recursive=True)
                           if Path(f).is_file() and Path(f).suffix.lower() in AUDIO_EXTENSIONS)
            out += found or [item]  # a pattern that matches nothing is reported, not dropped
        else:
            out.append(item)
    return out


@dataclass
class FileResult:
    path: str
    segments: list[Segment] = field(default_factory=list)
    duration: float = 0.0
    error: Optional[str] = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


def transcribe_files(rec: Recognizer, paths: Sequence[str], batch_size: int = 8,
                     segmenter: Optional[SegmenterConfig] = None) -> Iterator[FileResult]:
    """Transcribe many files in order: short files in padded batches, long files segment by
    segment. A file that cannot be read yields a result with ``error`` set; the rest go on."""
    cfg = segmenter or SegmenterConfig()
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> Iterator[FileResult]:
        if not pending:
            return
        hyps = rec.transcribe_batch([a for _, a in pending])
        for (path, audio), h in zip(pending, hyps):
            d = len(audio) / rec.sample_rate
            yield FileResult(path, [Segment(0.0, d, h.text, h.words, [h])], d)
        pending.clear()

    for path in paths:
        try:
            sr, frames, _ = audio_info(path)
            duration = frames / sr if frames > 0 else 0.0
            if 0 < duration <= cfg.max_seconds and batch_size > 1 and rec.decode_cfg.nbest == 1:
                pending.append((path, load_audio(path, rec.sample_rate)))
                if len(pending) >= batch_size:
                    yield from flush()
                continue
            yield from flush()
            segs = list(rec.segments(path, segmenter=cfg))
            yield FileResult(path, segs, duration or (segs[-1].end if segs else 0.0))
        except (OSError, ValueError) as e:  # AudioError is a ValueError
            yield from flush()
            yield FileResult(path, error=str(e))
    yield from flush()
