"""StreamingRecognizer: streamed tokens equal the offline decode whatever the block sizes;
endpoints split utterances; events carry stream time."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.config import DecodeConfig, FeatureConfig, ModelConfig
from asr.decoding.timing import clip_words
from asr.model import AcousticModel
from asr.streaming import EndpointConfig, StreamingRecognizer
from asr.text import Vocabulary
from asr.transcribe import Recognizer


def _model(stack: int = 3, stride: int = 3, seed: int = 0, lookahead: int = 0) -> AcousticModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(hidden=32, layers=2, bidirectional=False, stack=stack, stride=stride, lookahead=lookahead)
    m = AcousticModel(FeatureConfig(), cfg, Vocabulary()).eval()
    with torch.no_grad():
        m.output.bias[0] -= 3.0  # an untrained model that says something, so equality means something
        if lookahead:  # it starts at zero
            m.lookahead.weight.normal_(0.0, 0.5)
    return m


def _audio(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)


def _offline(m: AcousticModel, x: np.ndarray, decode: DecodeConfig = DecodeConfig()):
    """The offline recognizer's log-probs (the audio + the unidirectional tail padding) decoded
    whole, word times clipped to the audio as both recognizers do (no energy refinement)."""
    rec = Recognizer(m, decode=decode)
    hyp = rec.decoder.decode(rec.log_probs(x))[0]
    hyp.words = clip_words(hyp.words, len(x) / m.feature_cfg.sample_rate)
    return hyp


def _stream(sr: StreamingRecognizer, x: np.ndarray, sizes) -> list:
    events, i = [], 0
    for n in sizes:
        if i >= len(x):
            break
        events += sr.accept(x[i : i + n])
        i += n
    if i < len(x):
        events += sr.accept(x[i:])
    return events + sr.finish()


@pytest.mark.parametrize("stack,stride", [(3, 3), (3, 2), (4, 3), (2, 1)])
@pytest.mark.parametrize("blocks", ["one-sample", "random", "seconds"])
def test_streamed_tokens_equal_offline(stack, stride, blocks):
    m = _model(stack, stride)
    x = _audio(1.0 if blocks == "one-sample" else 3.0)
    rng = np.random.default_rng(1)
    sizes = {"one-sample": [1] * len(x), "random": rng.integers(1, 16000, 1000).tolist(), "seconds": [32000] * 5}[blocks]
    sr = StreamingRecognizer(m, endpoint=EndpointConfig(enabled=False))
    events = _stream(sr, x, sizes)
    finals = [e for e in events if e.kind == "final"]
    off = _offline(m, x)
    assert len(finals) == 1 and finals[0].text == off.text and off.text
    assert [(w.text, w.start, w.end) for w in finals[0].words] == [(w.text, w.start, w.end) for w in off.words]


@pytest.mark.parametrize("lookahead", [1, 3])
@pytest.mark.parametrize("blocks", ["one-sample", "random"])
def test_look_ahead_model_streams_what_it_decodes_offline(lookahead, blocks):
    """Its outputs lag its input (the recognizer drops a fresh state's first ones and flushes the
    last at the end): tokens and word times still equal the offline decode's."""
    m = _model(3, 2, lookahead=lookahead)
    x = _audio(1.0 if blocks == "one-sample" else 3.0)
    sizes = [1] * len(x) if blocks == "one-sample" else np.random.default_rng(2).integers(1, 16000, 1000).tolist()
    sr = StreamingRecognizer(m, endpoint=EndpointConfig(enabled=False))
    assert sr.chunk_frames == 16 - 2 * lookahead  # the look-ahead comes out of the 160 ms chunk
    finals = [e for e in _stream(sr, x, sizes) if e.kind == "final"]
    off = _offline(m, x)
    assert len(finals) == 1 and finals[0].text == off.text and off.text
    assert [(w.text, w.start, w.end) for w in finals[0].words] == [(w.text, w.start, w.end) for w in off.words]


def test_look_ahead_keeps_the_timeline_across_endpoints():
    """After each endpoint the frames still waiting for their future are skipped, not lost from
    the clock: the stream ends at the same frame as without look-ahead."""
    x = _audio(6.0)
    ends = []
    for la in (0, 2):
        sr = StreamingRecognizer(_model(3, 2, lookahead=la), endpoint=EndpointConfig(trailing_silence=0.3, max_utterance=1.5))
        finals = [e for e in _stream(sr, x, [1600] * 100) if e.kind == "final"]
        assert len(finals) >= 3 and all(a.end <= b.start + 1e-9 for a, b in zip(finals, finals[1:]))
        ends.append((sr.frames_out, finals[-1].end))
    assert ends[0] == ends[1]


def test_beam_streaming_equals_offline_beam():
    """7 s = 350 output frames: the stream's log-prob buffer (256 rows at first) has to grow."""
    m = _model()
    x = _audio(7.0)
    cfg = DecodeConfig(decoder="beam", beam_size=8)
    sr = StreamingRecognizer(m, decode=cfg, endpoint=EndpointConfig(enabled=False))
    events = _stream(sr, x, np.random.default_rng(2).integers(100, 5000, 100).tolist())
    (final,) = [e for e in events if e.kind == "final"]
    off = _offline(m, x, cfg)
    assert final.text == off.text and off.text
    assert [(w.text, w.start, w.end) for w in final.words] == [(w.text, w.start, w.end) for w in off.words]
    # Chunked and whole-utterance LSTM outputs agree to float rounding, not bit for bit.
    assert [w.confidence for w in final.words] == pytest.approx([w.confidence for w in off.words], abs=1e-6)


def test_beam_streaming_with_word_lm_equals_offline_beam(tmp_path):
    """Lexicon search with a word LM: the final is the search's best *finished* hypothesis (the LM's
    sentence end scored, unfinished words dropped), as offline, not the best hypothesis so far."""
    from asr.lm import estimate, write_arpa

    words = ["a", "an", "at", "tea", "eat", "ten", "net", "neat", "tan", "ant"]
    rng = np.random.default_rng(0)
    sentences = [[str(w) for w in rng.choice(words, size=int(rng.integers(1, 5)))] for _ in range(200)]
    lm = str(write_arpa(estimate(sentences, order=2), tmp_path / "words.arpa"))
    cfg = DecodeConfig(decoder="beam", beam_size=8, lm=lm, lm_weight=1.0, word_score=1.0)
    said = []
    for seed in range(4):
        m = _model(seed=seed)
        x = _audio(2.0, seed=seed)
        sr = StreamingRecognizer(m, decode=cfg, endpoint=EndpointConfig(enabled=False))
        (final,) = [e for e in _stream(sr, x, [3200] * 20) if e.kind == "final"]
        off = _offline(m, x, cfg)
        assert final.text == off.text, seed
        assert [(w.text, w.start, w.end) for w in final.words] == [(w.text, w.start, w.end) for w in off.words], seed
        said.append(final.text)
    assert any(said), said  # the comparison compares words


def test_other_sample_rates_are_resampled():
    m = _model()
    x8 = _audio(2.0)[::2].copy()  # 8 kHz
    sr = StreamingRecognizer(m, endpoint=EndpointConfig(enabled=False))
    events = []
    for i in range(0, len(x8), 777):
        events += sr.accept(x8[i : i + 777], sample_rate=8000)
    events += sr.finish()
    assert events[-1].kind == "final"
    assert abs(sr.samples_in / 16000 - len(x8) / 8000) < 0.01


def test_endpoints_split_utterances_and_times_increase():
    m = _model()
    sr = StreamingRecognizer(m, endpoint=EndpointConfig(trailing_silence=0.3, leading_silence=1.0, max_utterance=1.5))
    events = _stream(sr, _audio(6.0), [1600] * 100)
    finals = [e for e in events if e.kind == "final"]
    assert len(finals) >= 3  # max_utterance=1.5 s forces several over 6 s
    assert [e.utterance for e in finals] == list(range(len(finals)))
    assert all(a.end <= b.start + 1e-9 for a, b in zip(finals, finals[1:]))
    assert all(e.end - e.start <= 1.5 + 0.2 for e in finals)
    for e in events:
        assert all(e.start - 1e-9 <= w.start <= w.end <= e.end + 1e-9 for w in e.words)


def test_bidirectional_model_is_refused():
    m = AcousticModel(FeatureConfig(), ModelConfig(hidden=8, layers=1, bidirectional=True), Vocabulary())
    with pytest.raises(ValueError, match="unidirectional"):
        StreamingRecognizer(m)


def test_reset_starts_a_new_stream():
    m = _model()
    x = _audio(1.0)
    sr = StreamingRecognizer(m, endpoint=EndpointConfig(enabled=False))
    first = _stream(sr, x, [4000] * 10)
    sr.reset()
    second = _stream(sr, x, [4000] * 10)
    assert first[-1].text == second[-1].text and second[-1].start == 0.0


def test_reset_keeps_the_settings():
    from asr.level import RunningGain

    sr = StreamingRecognizer(_model(), endpoint=EndpointConfig(trailing_silence=0.3), chunk_frames=24, boost_quiet=True)
    sr.reset()
    assert isinstance(sr.gain, RunningGain) and sr.chunk_frames == 24 and sr.endpoint.trailing_silence == 0.3


def test_stream_command_prints_events(tmp_path, capsys):
    import soundfile as sf

    from asr.cli import main

    m = _model()
    m.save(tmp_path / "uni.pt")
    sf.write(tmp_path / "a.wav", _audio(1.5), 16000)
    assert main(["stream", str(tmp_path / "a.wav"), "--model", str(tmp_path / "uni.pt"), "--chunk-ms", "160"]) == 0
    out, err = capsys.readouterr()
    assert "[final" in out and "RTF" in err


def test_unidirectional_models_hear_silence_after_the_end():
    """A unidirectional model's last letters come late: both recognizers append
    ``tail_padding`` seconds of silence, and no time reported goes past the real audio."""
    uni = _model(3, 2)
    x = _audio(1.0)
    rec = Recognizer(uni)
    pad = int(round(uni.tail_padding * 16000))
    assert pad > 0 and len(rec.model_input(x)) == len(x) + pad
    t = rec.transcribe(x, sample_rate=16000)
    assert t.hypothesis.words and max(w.end for w in t.hypothesis.words) == pytest.approx(1.0)  # clipped, spoke to the end
    sr = StreamingRecognizer(uni, endpoint=EndpointConfig(enabled=False))
    events = _stream(sr, x, [4000] * 4)
    assert all(e.end <= 1.0 and all(w.end <= 1.0 for w in e.words) for e in events)
    assert events[-1].kind == "final" and events[-1].end == pytest.approx(1.0)
    bi = AcousticModel(FeatureConfig(), ModelConfig(hidden=16, layers=1, bidirectional=True), Vocabulary())
    assert bi.tail_padding == 0 and len(Recognizer(bi).model_input(x)) == len(x)
