"""Streaming recognition: audio blocks in, partial and final results out.

The three offline stages run chunk by chunk with their state carried: ``StreamingFeatures``
(bit-identical frames), the unidirectional LSTM's (h, c), and the decoder (greedy path or
flashlight's beam via decode_begin/step/end). Endpoints follow Kaldi's and sherpa's rules on the
decoded frames: an utterance ends after ``trailing_silence`` seconds of blank output following
speech, after ``leading_silence`` seconds when nothing was said, or at ``max_utterance``
seconds. After a final result the decoder and LSTM state reset for the next utterance; the
feature stream continues, and every event carries stream-time timings.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np
import soxr
import torch

from .config import DecodeConfig
from .decoding.beam import blank_skip_mask
from .decoding.greedy import collapse, words_from_alignment
from .decoding.timing import clip_words
from .decoding.types import Hypothesis, Word, doubtful
from .features import StreamingFeatures
from .level import RunningGain
from .model import AcousticModel


@dataclass
class EndpointConfig:
    trailing_silence: float = 0.6  # seconds of blank output after speech that end an utterance
    leading_silence: float = 5.0  # seconds of blank output with nothing said that end one
    max_utterance: float = 20.0  # an utterance never runs longer than this
    enabled: bool = True


@dataclass
class Event:
    kind: str  # "partial" | "final"
    text: str
    start: float  # stream seconds: the utterance's start
    end: float  # stream seconds: audio consumed when the event was made
    words: list[Word] = field(default_factory=list)
    utterance: int = 0
    compute_ms: float = 0.0  # processing time of the chunk that produced it


class _GreedyStream:
    """Incremental best path over output frames."""

    def __init__(self) -> None:
        self.path: list[int] = []
        self.conf: list[float] = []

    def step(self, log_probs: torch.Tensor) -> None:
        best, idx = log_probs.max(-1)
        self.path += idx.tolist()
        self.conf += best.exp().tolist()

    def best_path(self) -> tuple[list[int], list[float]]:
        return self.path, self.conf


class _BeamStream:
    """flashlight's incremental interface; the best hypothesis so far serves partials. Runs of
    near-certain blanks are skipped as in offline decoding (the run state carries across chunks)."""

    def __init__(self, decoder) -> None:
        self.dec = decoder  # a BeamSearchDecoder
        self._lp = np.empty((0, 0), dtype=np.float32)  # the utterance's log-probs; rows [0, frames) are filled
        self.kept: list[int] = []  # stream frames the search saw
        self.frames = 0
        self.prev_confident = False
        self.finished = False
        self.dec.decoder.decode_begin()

    def step(self, log_probs: torch.Tensor) -> None:
        lp = log_probs.float().contiguous()
        self._append(lp.numpy())
        skip, self.prev_confident = blank_skip_mask(lp, self.dec.vocab.blank, self.dec.cfg.blank_skip, self.prev_confident)
        kept = np.flatnonzero(~skip)
        self.kept += (kept + self.frames).tolist()
        self.frames += lp.shape[0]
        em = np.ascontiguousarray(lp.numpy()[kept])
        self.dec.drop_unlikely(em)
        if em.shape[0]:
            self.dec.decoder.decode_step(em.ctypes.data, em.shape[0], em.shape[1])

    def _result(self):
        """Once finished, the best *finished* hypothesis (sentence end scored, unfinished words
        dropped), as offline decoding returns; before that, the best so far."""
        finished = self.dec.decoder.get_all_final_hypothesis() if self.finished else []
        return finished[0] if finished else self.dec.decoder.get_best_hypothesis()

    def best(self, offset: float = 0.0) -> tuple[Optional[Hypothesis], list[int]]:
        """(hypothesis, frame path) of the best search state so far."""
        if not self.frames:
            return None, []
        lp, r = self._lp[: self.frames], self._result()
        return self.dec.hypothesis_from(r, lp, offset, self.kept), self.dec.frame_path(r, self.kept, lp.shape[0]).tolist()

    def words(self, offset: float = 0.0) -> list[Word]:
        """The words so far: the search's, then, until the end, greedy words over the frames after
        its best hypothesis. flashlight's best hypothesis so far stops at its last *completed*
        word, so without them a partial result would lag a word behind the speech; they are a
        partial's unstable end, and finals never include them."""
        if not self.frames:
            return []
        r = self._result()
        words = self.dec.hypothesis_from(r, self._lp[: self.frames], offset, self.kept).words
        if self.finished:
            return words
        covered = min(len(r.tokens) - 1, len(self.kept))  # search frames the hypothesis spans
        start = self.kept[covered - 1] + 1 if covered > 0 else 0  # the stream frame after them
        if start >= self.frames:
            return words
        conf, path = torch.from_numpy(self._lp[start : self.frames]).max(-1)
        fs = self.dec.frame_seconds
        return words + words_from_alignment(collapse(path.tolist(), self.dec.vocab.blank), conf.exp().tolist(),
                                            self.dec.vocab, fs, offset + start * fs)

    def _append(self, lp: np.ndarray) -> None:
        """Copy a chunk's log-probs after the utterance's, doubling the buffer when full, so a
        partial costs no concatenation of the whole utterance."""
        end = self.frames + lp.shape[0]
        if end > self._lp.shape[0]:
            grown = np.empty((max(end, 2 * self._lp.shape[0], 256), lp.shape[1]), dtype=np.float32)
            if self.frames:
                grown[: self.frames] = self._lp[: self.frames]
            self._lp = grown
        self._lp[self.frames : end] = lp

    def finish(self) -> None:
        if self.dec.lexicon_mode:  # the free frame after the end, as offline
            em = self.dec.free_frame()
            self.dec.decoder.decode_step(em.ctypes.data, 1, em.shape[1])
            self.kept.append(self.frames)
        self.dec.decoder.decode_end()
        self.finished = True


@contextlib.contextmanager
def _without_onednn() -> Iterator[None]:
    """torch.backends.mkldnn off for the block (``mkldnn.flags()`` would also warn about TF32)."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def default_chunk_frames(model: AcousticModel) -> int:
    """Feature frames per model step: 160 ms, less a look-ahead model's look-ahead, so that the
    look-ahead comes out of the chunk's buffering and the latency stays that of 160 ms chunks."""
    c = model.cfg
    return max(c.stride, 16 - c.lookahead * c.stride)


class StreamingRecognizer:
    """``accept(samples) -> events``; ``finish() -> events``. Needs a unidirectional model."""

    def __init__(self, model: AcousticModel, decode: Optional[DecodeConfig] = None,
                 endpoint: Optional[EndpointConfig] = None, chunk_frames: Optional[int] = None, boost_quiet: bool = False) -> None:
        """``chunk_frames``: feature frames (10 ms) per model step; default ``default_chunk_frames``.
        ``boost_quiet``: raise very quiet input by the peak heard so far (``asr.level.RunningGain``).
        Off by default: a stream cannot tell quiet speech from the room noise before it, and
        raising that noise 40 dB (AN4's leading silences peak at -65 to -17 dBFS) doubled AN4's
        streamed WER. Turn it on for a microphone known to be far too quiet."""
        if model.cfg.bidirectional:
            raise ValueError("streaming needs a unidirectional model (model.bidirectional: false)")
        self.model = model.eval()
        self.vocab = model.vocab
        self.fcfg = model.feature_cfg
        self.stack, self.stride = model.cfg.stack, model.cfg.stride
        chunk_frames = default_chunk_frames(model) if chunk_frames is None else chunk_frames
        self.chunk_frames = max(self.stride, chunk_frames // self.stride * self.stride)
        self.lookahead = model.cfg.lookahead  # output frames the model's outputs lag its input
        self.frame_seconds = self.fcfg.frame_shift * self.stride
        self.decode_cfg = decode or DecodeConfig()
        self.endpoint = endpoint or EndpointConfig()
        self._beam = None
        if self.decode_cfg.decoder == "beam":
            from .decoding.beam import BeamSearchDecoder

            self._beam = BeamSearchDecoder(self.vocab, self.decode_cfg, self.frame_seconds)
        self._resampler: Optional[soxr.ResampleStream] = None
        self._in_rate = self.fcfg.sample_rate
        self.features = StreamingFeatures(self.fcfg)
        self.boost_quiet = boost_quiet
        self.gain = RunningGain() if boost_quiet else (lambda block: block)
        self.samples_in = 0  # at the model rate
        self.frames_out = 0  # output frames decoded over the whole stream
        self.utterance = 0
        self._pending = torch.zeros(0, self.fcfg.dim)  # feature frames not yet fed to the model
        self._waiting = 0  # output frames the model holds back for their look-ahead
        self._new_utterance()

    # ------------------------------------------------------------------ state
    def _new_utterance(self) -> None:
        # Frames still waiting for their future at an endpoint are silence: left undecoded, but
        # counted, so the stream clock stays right (finish() flushes them instead).
        self.frames_out += self._waiting
        self.state = self.model.init_state()
        self._waiting = self.lookahead
        self._skip = self.lookahead  # a fresh look-ahead state's first outputs precede the stream
        self.decoder = _BeamStream(self._beam) if self._beam else _GreedyStream()
        self.utt_start_frame = self.frames_out
        self._silent_frames = 0  # the utterance's trailing run of blank/space frames (endpoint rules)
        self._last_text = None

    def reset(self) -> None:
        """Forget everything: a new stream starts at time 0."""
        self.__init__(self.model, self.decode_cfg, self.endpoint, self.chunk_frames, self.boost_quiet)

    # ------------------------------------------------------------------ input
    def _to_model_rate(self, samples: np.ndarray, sample_rate: Optional[int], last: bool = False) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1, dtype=np.float32)
        rate = sample_rate or self._in_rate
        if rate != self._in_rate or (self._resampler is None and rate != self.fcfg.sample_rate):
            self._in_rate = rate
            self._resampler = None if rate == self.fcfg.sample_rate else soxr.ResampleStream(rate, self.fcfg.sample_rate, 1, dtype="float32")
        if self._resampler is None:
            return x
        return self._resampler.resample_chunk(x, last=last)

    def accept(self, samples: np.ndarray, sample_rate: Optional[int] = None) -> list[Event]:
        """samples: (n,) or (n, channels) float at ``sample_rate`` (default: the model rate, or the
        rate of the previous call). Returns the events this block produced (often none)."""
        t0 = time.perf_counter()
        x = self.gain(self._to_model_rate(samples, sample_rate))
        self.samples_in += len(x)
        frames = self.features.accept(x)
        return self._consume(frames, final=False, t0=t0)

    def finish(self) -> list[Event]:
        """End of stream: flush the resampler and features, decode the rest, emit the final."""
        t0 = time.perf_counter()
        tail = self.gain(self._to_model_rate(np.zeros(0, np.float32), None, last=True)) if self._resampler else np.zeros(0, np.float32)
        self.samples_in += len(tail)
        # Silence after the end lets a unidirectional model emit its last letters, as offline
        # (AcousticModel.tail_padding); the events' times stop at the real end (samples_in).
        frames = torch.cat([self.features.accept(tail), self.features.accept(self.model.tail_silence()), self.features.finish()])
        return self._consume(frames, final=True, t0=t0)

    # ------------------------------------------------------------------ model + decoder
    # ATen's own LSTM kernel, not oneDNN's: for one stream's chunk (batch 1, 8 output frames)
    # oneDNN's fp32 LSTM took 4.5 ms against 3.7 (3x384 AN4 streaming model, one thread).
    @_without_onednn()
    @torch.inference_mode()
    def _consume(self, frames: torch.Tensor, final: bool, t0: float) -> list[Event]:
        self._pending = torch.cat([self._pending, frames])
        events: list[Event] = []
        need = self.chunk_frames + self.stack - self.stride
        while self._pending.shape[0] >= need or (final and self._pending.shape[0] > 0):
            if self._pending.shape[0] >= need:
                chunk = self._pending[:need]
                self._pending = self._pending[self.chunk_frames :]
            else:  # the last partial chunk: pad as the offline model does (zeros after normalisation)
                n_out = -(-self._pending.shape[0] // self.stride)
                size = (n_out - 1) * self.stride + self.stack
                pad = self.model.feat_mean.expand(size - self._pending.shape[0], -1)
                chunk = torch.cat([self._pending, pad])
                self._pending = self._pending[:0]
            lp, self.state = self.model.step(chunk[None], self.state)
            if self._decode(lp):
                events += self._check(t0)
        if final:
            self._decode(self.model.flush(self.state))  # the look-ahead's last frames
            self._waiting = 0
            events += self._final(t0)
        return events

    def _decode(self, lp: torch.Tensor) -> bool:
        """Decode (1, n, vocab) model outputs, less those of a fresh look-ahead state that precede
        the stream; whether any were left."""
        lp, self._skip = lp[:, self._skip :], max(0, self._skip - lp.shape[1])
        if lp.shape[1]:
            self.decoder.step(lp[0])
            self._track_silence(lp[0])
            self.frames_out += lp.shape[1]
        return lp.shape[1] > 0

    def _now(self) -> float:
        """Stream time decoded so far; never past the audio received (the tail padding is not audio)."""
        return min(self.frames_out * self.frame_seconds, self.samples_in / self.fcfg.sample_rate)

    def _text(self) -> tuple[str, list[Word]]:
        offset = self.utt_start_frame * self.frame_seconds
        if self._beam:  # words from the search (in lexicon mode: from its word labels), then the word in progress
            words = self.decoder.words(offset)
        else:
            path, conf = self.decoder.best_path()
            words = words_from_alignment(collapse(path, self.vocab.blank), conf, self.vocab, self.frame_seconds, offset)
        if doubtful(words, self.decode_cfg.min_confidence):  # so far: nothing to show
            return "", []
        return " ".join(w.text for w in words), clip_words(words, self._now())

    def _check(self, t0: float) -> list[Event]:
        text, words = self._text()
        now = self._now()
        start = min(self.utt_start_frame * self.frame_seconds, now)
        events = []
        if text != self._last_text and text:
            events.append(Event("partial", text, start, now, words, self.utterance, (time.perf_counter() - t0) * 1000))
            self._last_text = text
        if self.endpoint.enabled and self._endpoint(bool(text)):
            events += self._final(t0)
        return events

    def _endpoint(self, spoke: bool) -> bool:
        e = self.endpoint
        if (self.frames_out - self.utt_start_frame) * self.frame_seconds >= e.max_utterance:
            return True
        return self._silent_frames * self.frame_seconds >= (e.trailing_silence if spoke else e.leading_silence)

    def _track_silence(self, lp: torch.Tensor) -> None:
        """Count the utterance's trailing run of frames whose most likely token is blank or space.
        Endpoints read the acoustics, not the search: flashlight's best hypothesis ends at its last
        *completed* word, so a word being spoken looked like silence to a beam
        search (the bundled model + LM ended "october twenty first nineteen seventy two" after
        "seventy"). Greedy and beam decoding thus end utterances at the same frames."""
        best = lp.argmax(-1)
        speech = ((best != self.vocab.blank) & (best != self.vocab.space)).nonzero()
        n = lp.shape[0]
        self._silent_frames = self._silent_frames + n if len(speech) == 0 else n - 1 - int(speech[-1])

    def _final(self, t0: float) -> list[Event]:
        if self._beam:
            self.decoder.finish()
        text, words = self._text()
        end = self._now()
        ev = Event("final", text, min(self.utt_start_frame * self.frame_seconds, end), end, words,
                   self.utterance, (time.perf_counter() - t0) * 1000)
        self.utterance += 1
        self._new_utterance()
        return [ev]
