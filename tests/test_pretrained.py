"""The bundled models: present, small, the right kind, used when --model is absent; packing a
checkpoint in fp16; fine-tuning from a checkpoint (train.init_from)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import save_tiny_model, speechlike

from asr.audio import load_audio
from asr.cli import main
from asr.config import DecodeConfig
from asr.config import load_config
from asr.features import compute_features
from asr.model import AcousticModel
from asr.decoding.beam import arpa_unigrams, lm_unit
from asr.pretrained import (DEFAULT_LM, DEFAULT_LM_WEIGHTS, DEFAULT_MODELS, MODELS_DIR, default_lm, default_model, lm_settings,
                            pack_checkpoint, resolve_model)
from asr.streaming import StreamingRecognizer
from asr.train.loop import Trainer
from asr.train.metrics import error_rates

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_bundled_models_are_there_small_and_the_right_kind():
    offline, streaming = AcousticModel.load(default_model("offline")), AcousticModel.load(default_model("streaming"))
    assert offline.cfg.bidirectional and not streaming.cfg.bidirectional
    total = sum((MODELS_DIR / name).stat().st_size for name in [*DEFAULT_MODELS.values(), DEFAULT_LM])
    assert total <= 25e6, f"bundled models and LM take {total / 1e6:.1f} MB (budget 25 MB)"
    # The fp16 weights come back as fp32 parameters.
    assert all(p.dtype == torch.float32 for p in offline.parameters())


def test_notice_names_every_training_corpus_and_license():
    notice = (MODELS_DIR / "NOTICE").read_text()
    for needle in ("AN4", "Carnegie Mellon", "Free Spoken Digit", "CC BY-SA 4.0", "Libri-light", "CC BY 4.0", "speechocean762"):
        assert needle in notice, needle


def test_package_data_ships_the_models():
    toml = (ROOT / "pyproject.toml").read_text()
    assert '"models/*.pt"' in toml and '"models/*.arpa"' in toml and '"models/NOTICE"' in toml


def test_bundled_lm_is_a_word_trigram_of_the_training_transcripts():
    assert default_lm() == MODELS_DIR / DEFAULT_LM and lm_unit(str(default_lm())) == "word"
    words = set(arpa_unigrams(str(default_lm())))
    assert {"erase", "stop", "october", "seven", "the"} <= words and len(words) > 5000
    assert "\\3-grams:" in default_lm().read_text()


def test_lm_settings_bundled_uses_the_tuned_weights_unless_given():
    path = str(default_lm())
    assert lm_settings("bundled", None, None, "offline") == (path, *DEFAULT_LM_WEIGHTS["offline"])
    assert lm_settings("bundled", None, None, "streaming") == (path, *DEFAULT_LM_WEIGHTS["streaming"])
    assert lm_settings("bundled", 2.0, None, "streaming") == (path, 2.0, DEFAULT_LM_WEIGHTS["streaming"][1])
    assert lm_settings("bundled", None, 1.5, "offline") == (path, DEFAULT_LM_WEIGHTS["offline"][0], 1.5)
    assert lm_settings("my.arpa", None, None) == ("my.arpa", 0.5, 0.0)  # an LM of one's own: the generic default
    assert lm_settings(None, None, None) == (None, 0.5, 0.0)


def test_transcribe_and_stream_with_the_bundled_lm(capfd):
    """--lm bundled decodes with the beam and the shipped LM, quietly (no KenLM loading banner)."""
    assert main(["transcribe", "--lm", "bundled", str(EXAMPLES / "command.flac"), str(EXAMPLES / "date.flac")]) == 0
    out, err = capfd.readouterr()
    command, date = [line.split("\t")[1] for line in out.splitlines()]
    assert command == "stop"
    # Lexicon decoding: only the LM's words come out, and most of the date is right.
    assert set(date.split()) <= set(arpa_unigrams(str(default_lm())))
    assert error_rates(["october twenty first nineteen seventy two"], [date])[0] <= 100 / 6 + 1e-6, date
    assert "Loading" not in err and "****" not in err
    assert main(["stream", "--lm", "bundled", str(EXAMPLES / "command.flac"), "--no-partials"]) == 0
    out, err = capfd.readouterr()
    assert "final" in out and "stop" in out and "****" not in err


def test_resolve_model_prefers_the_given_path(tmp_path):
    assert resolve_model(tmp_path / "x.pt", "offline") == tmp_path / "x.pt"
    assert resolve_model(None, "streaming") == MODELS_DIR / DEFAULT_MODELS["streaming"]
    with pytest.raises(ValueError, match="unknown model kind"):
        default_model("tiny")


def test_transcribe_and_stream_use_the_bundled_models_without_model(capsys):
    assert main(["transcribe", str(EXAMPLES / "command.flac")]) == 0
    assert capsys.readouterr().out.strip() == "stop"
    assert main(["stream", str(EXAMPLES / "command.flac"), "--no-partials"]) == 0
    out = capsys.readouterr().out
    assert "final" in out and "stop" in out


def test_evaluate_uses_the_bundled_model_without_model(capsys):
    assert main(["evaluate", "--manifest", str(EXAMPLES / "examples.jsonl"), "-q"]) == 0
    assert "WER" in capsys.readouterr().out


def test_pack_fp16_halves_the_file_and_keeps_the_output(tmp_path):
    src = save_tiny_model(tmp_path / "tiny.pt")
    with torch.no_grad():  # make the weights big enough for the size comparison to mean something
        m = AcousticModel.load(src)
        m.output = torch.nn.Linear(m.output.in_features, m.output.out_features)
        m.save(src)
        m = AcousticModel.load(src)
    dst = pack_checkpoint(src, tmp_path / "tiny16.pt")
    assert dst.stat().st_size < 0.7 * src.stat().st_size
    m16 = AcousticModel.load(dst)
    feats = compute_features(torch.from_numpy(speechlike(16000, 1.5)), m.feature_cfg)[None]
    lens = torch.tensor([feats.shape[1]])
    with torch.no_grad():
        a, _ = m(feats, lens)
        b, _ = m16(feats, lens)
    assert torch.allclose(a, b, atol=2e-2)
    assert torch.equal(m.feat_mean, m16.feat_mean)  # statistics stay fp32
    with pytest.raises(ValueError, match="fp16 or fp32"):
        pack_checkpoint(src, tmp_path / "x.pt", "int4")


def test_pack_command(tmp_path, capsys):
    src = save_tiny_model(tmp_path / "tiny.pt")
    assert main(["pack", str(src), "-o", str(tmp_path / "out.pt")]) == 0
    assert "fp16" in capsys.readouterr().out and (tmp_path / "out.pt").is_file()


def _tiny_cfg(corpus: dict, out: Path, extra: list[str]):
    return load_config(None, [f"data.train=[{corpus['train']}]", f"data.dev={corpus['dev']}", f"train.out_dir={out}",
                              "model.hidden=16", "model.layers=1", "train.threads=1", "train.epochs=1", *extra])


def test_init_from_copies_weights_and_statistics(synth_corpus, tmp_path):
    src = save_tiny_model(tmp_path / "tiny.pt")
    source = AcousticModel.load(src)
    trainer = Trainer(_tiny_cfg(synth_corpus, tmp_path / "ft", [f"train.init_from={src}", "model.dropout=0.3"]))
    for (name, a), b in zip(trainer.model.state_dict().items(), source.state_dict().values()):
        assert torch.equal(a, b), name
    fresh = Trainer(_tiny_cfg(synth_corpus, tmp_path / "fresh", ["model.dropout=0.0"]))
    assert not torch.equal(fresh.model.feat_mean, source.feat_mean)


def test_init_from_a_different_shape_is_a_clear_error(synth_corpus, tmp_path):
    src = save_tiny_model(tmp_path / "tiny.pt")
    with pytest.raises(ValueError, match="init_from.*model differ"):
        Trainer(_tiny_cfg(synth_corpus, tmp_path / "ft", [f"train.init_from={src}", "model.hidden=24"]))


def test_init_from_adds_a_look_ahead_that_starts_at_zero(synth_corpus, tmp_path):
    """A look-ahead model may start from one without: same weights, the look-ahead at zero, so the
    same outputs; the reverse, dropping a trained look-ahead, is refused."""
    src = save_tiny_model(tmp_path / "uni.pt", bidirectional=False)
    source = AcousticModel.load(src)
    trainer = Trainer(_tiny_cfg(synth_corpus, tmp_path / "ft", [f"train.init_from={src}", "model.bidirectional=false",
                                                                "model.lookahead=2", "model.dropout=0.0"]))
    m = trainer.model.eval()
    assert torch.equal(m.lookahead.weight, torch.zeros_like(m.lookahead.weight))
    x = torch.randn(1, 50, m.feature_cfg.dim)
    with torch.no_grad():
        torch.testing.assert_close(m(x, torch.tensor([50]))[0], source(x, torch.tensor([50]))[0], atol=1e-6, rtol=0)
    la = save_tiny_model(tmp_path / "la.pt", bidirectional=False, lookahead=2)
    with pytest.raises(ValueError, match="init_from.*model differ"):
        Trainer(_tiny_cfg(synth_corpus, tmp_path / "ft2", [f"train.init_from={la}", "model.bidirectional=false"]))


@pytest.mark.parametrize("command", ["evaluate", "transcribe"])
def test_file_commands_take_the_bundled_lm_weights_of_the_models_kind(command):
    """``asr evaluate --model <the bundled streaming model> --lm bundled`` decodes with the weights
    tuned for the streaming model (it once took the offline ones), and a weight given still wins."""
    from asr.cli import _file_recognizer, build_parser

    def decode_cfg(kind: str, *extra: str) -> DecodeConfig:
        argv = [command, "--model", str(default_model(kind)), "--lm", "bundled", *extra]
        argv += ["--manifest", "f.jsonl"] if command == "evaluate" else ["f.wav"]
        return _file_recognizer(build_parser().parse_args(argv)).decode_cfg

    for kind in ("offline", "streaming"):
        cfg = decode_cfg(kind)
        assert (cfg.lm_weight, cfg.word_score) == DEFAULT_LM_WEIGHTS[kind]
    assert decode_cfg("streaming", "--lm-weight", "0.25").lm_weight == 0.25


def test_beam_and_greedy_streams_end_utterances_at_the_same_frames():
    """Endpoints read the acoustics, not the search: flashlight's best hypothesis stops at its last
    completed word, and a beam stream once ended "october twenty first nineteen seventy two" in
    the middle, while "seventy" was being spoken."""
    model = AcousticModel.load(default_model("streaming"))
    lm, weight, score = lm_settings("bundled", None, None, "streaming")
    speech = lambda name: load_audio(EXAMPLES / f"{name}.flac", 16000)  # noqa: E731
    audio = np.concatenate([speech("date"), np.zeros(16000, np.float32), speech("digits")])
    finals = {}
    for name, cfg in {"greedy": None, "beam": DecodeConfig(decoder="beam", lm=lm, lm_weight=weight, word_score=score)}.items():
        rec = StreamingRecognizer(model, cfg)
        events = [e for i in range(0, len(audio), 1600) for e in rec.accept(audio[i : i + 1600])] + rec.finish()
        finals[name] = [(round(e.start, 2), round(e.end, 2), e.text) for e in events if e.kind == "final" and e.text]
    assert [f[:2] for f in finals["beam"]] == [f[:2] for f in finals["greedy"]]
    assert len(finals["beam"]) == 2, finals
    assert finals["beam"][0][2].endswith("seventy two") and finals["beam"][1][2] == "enter five three one two"


def test_beam_stream_partials_keep_up_with_the_speech():
    """A beam stream's partials end with the word in progress (greedy letters after the search's
    last completed word), so they come as early as a greedy stream's; its final is the search's."""
    model = AcousticModel.load(default_model("streaming"))
    lm, weight, score = lm_settings("bundled", None, None, "streaming")
    audio = load_audio(EXAMPLES / "date.flac", 16000)
    events = {}
    for name, cfg in {"greedy": None, "beam": DecodeConfig(decoder="beam", lm=lm, lm_weight=weight, word_score=score)}.items():
        rec = StreamingRecognizer(model, cfg)
        events[name] = [e for i in range(0, len(audio), 1600) for e in rec.accept(audio[i : i + 1600])] + rec.finish()
    first = {name: next(e.end for e in evs if e.kind == "partial") for name, evs in events.items()}
    assert first["beam"] == first["greedy"]
    partials = [e.text for e in events["beam"] if e.kind == "partial"]
    assert len(partials) >= 10 and all(len(b.split()) >= len(a.split()) - 1 for a, b in zip(partials, partials[1:]))
    (final,) = [e for e in events["beam"] if e.kind == "final" and e.text]
    assert final.text.endswith("seventy two")
