"""Choosing the LM weight and word score on dev: ``BeamSearchDecoder.with_weights`` equals a
decoder built afresh, ``tune_lm``'s choice and tie-breaks, and ``asr lm tune``."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("flashlight.lib.text.decoder", reason="beam search needs flashlight-text")

from asr.cli import main  # noqa: E402
from asr.config import DecodeConfig  # noqa: E402
from asr.data.dataset import load_rows  # noqa: E402
from asr.data.manifest import write_manifest  # noqa: E402
from asr.decoding.beam import BeamSearchDecoder  # noqa: E402
from asr.decoding.tune import GridPoint, grid_table, tune_lm  # noqa: E402
from asr.lm import char_sentences, estimate, write_arpa  # noqa: E402
from asr.text import Vocabulary  # noqa: E402

from helpers import log_probs, spell  # noqa: E402
from test_beam import random_peaky  # noqa: E402

VOCAB = Vocabulary()
FRAME = 0.03
SENTENCES = [["the", "cat"]] * 10 + [["a", "car"]] * 10 + [["the", "dog"], ["a", "dog"]]


@pytest.fixture(scope="module")
def lms(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("lm")
    return {"word": str(write_arpa(estimate(SENTENCES, order=2), d / "words.arpa")),
            "char": str(write_arpa(estimate(char_sentences(SENTENCES), order=5), d / "chars.arpa")),
            # every pair as often as every other: no help with "ca?"
            "even": str(write_arpa(estimate([[a, b] for a in ("the", "a") for b in ("cat", "car", "dog")] * 5, order=2),
                                   d / "even.arpa"))}


def cases():
    """'the ca?' leaning to r and 'a ca?' leaning to t: only an LM that knows the pairs gets both."""
    return [log_probs(spell("the ca") + [{"r": 0.45, "t": 0.4}, "_"]),
            log_probs(spell("a ca") + [{"t": 0.45, "r": 0.4}, "_"])]


@pytest.mark.parametrize("unit", ["word", "char"])
def test_with_weights_equals_a_decoder_built_afresh(lms, unit):
    first = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lm=lms[unit], lm_weight=0.0, word_score=0.0, nbest=3), FRAME)
    inputs = cases() + [log_probs(spell(t)) for t in ("the dog", "a cat", "the car a dog")] + [random_peaky(s) for s in range(8)]
    checked = 0
    for lw, ws in [(0.0, 0.0), (1.0, 0.0), (0.5, -1.0), (2.0, 3.0)]:
        shared = first.with_weights(lw, ws)
        fresh = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lm=lms[unit], lm_weight=lw, word_score=ws, nbest=3), FRAME)
        assert shared.cfg == fresh.cfg and shared._lm is first._lm
        for lp in inputs:
            a, b = shared.decode(lp), fresh.decode(lp)
            assert [h.score for h in a] == pytest.approx([h.score for h in b])
            # Equal scores come out in no fixed order (two fresh decoders disagree too): the texts
            # are compared where the best is unique.
            if len(a) == 1 or a[0].score > a[1].score + 1e-3:
                assert a[0].text == b[0].text
                checked += 1
    assert checked >= 20
    assert first.cfg.lm_weight == 0.0  # the original is untouched
    assert [h.text for h in first.decode(cases()[0])][0] == "the car"


def test_with_weights_rebuilds_hotword_decoders(lms):
    dec = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lm=lms["word"], lm_weight=1.0, hotwords=["dog"]), FRAME)
    other = dec.with_weights(2.0, 1.0)
    assert other._lm is not dec._lm and other.cfg.lm_weight == 2.0 and other.cfg.hotwords == ["dog"]


def test_tune_lm_finds_the_weight_that_fixes_both_and_prefers_the_least(lms):
    refs = ["the cat", "a car"]
    best, points = tune_lm(VOCAB, FRAME, cases(), refs, [lms["word"]], lm_weights=[0.0, 1.0, 2.0], word_scores=[0.0, 1.0])
    assert len(points) == 6 and all(isinstance(p, GridPoint) for p in points)
    by = {(p.lm_weight, p.word_score): p.wer for p in points}
    assert by[(0.0, 0.0)] == 50.0  # acoustics alone: "the car", "a cat"
    assert by[(1.0, 0.0)] == 0.0 and by[(2.0, 0.0)] == 0.0
    assert (best.lm_weight, best.word_score, best.wer) == (1.0, 0.0, 0.0)  # ties: the lower weight, then score


def test_tune_lm_chooses_among_lms_ties_to_the_first(lms):
    refs = ["the cat", "a car"]
    # An LM that has heard every pair equally often cannot tell them apart: the other one wins,
    # whichever is listed first.
    best, points = tune_lm(VOCAB, FRAME, cases(), refs, [lms["even"], lms["word"]], lm_weights=[0.0, 1.0], word_scores=[0.0])
    assert best.lm == lms["word"] and best.wer == 0.0
    assert {p.lm for p in points} == {lms["even"], lms["word"]}
    # Equal WER everywhere (weight 0 = acoustics alone): the first LM listed.
    best, _ = tune_lm(VOCAB, FRAME, cases(), refs, [lms["word"], lms["even"]], lm_weights=[0.0], word_scores=[0.0])
    assert best.lm == lms["word"] and best.wer == 50.0


def test_tune_lm_input_checks(lms):
    with pytest.raises(ValueError, match="one reference per utterance"):
        tune_lm(VOCAB, FRAME, cases(), ["the cat"], [lms["word"]])
    with pytest.raises(ValueError, match="at least one LM"):
        tune_lm(VOCAB, FRAME, cases(), ["the cat", "a car"], [])


def test_lm_tune_command(words_model, words_corpus, tmp_path, capsys):
    """On a model that knows the words: a table per LM, the best flags, a bad file skipped."""
    arpa = tmp_path / "words.arpa"
    assert main(["lm", "build", str(words_corpus["train"]), "--order", "2", "-o", str(arpa)]) == 0
    rows = load_rows([str(words_corpus["dev"])])[:12]
    rows.append({"audio": str(tmp_path / "gone.wav"), "text": "yes", "id": "gone", "duration": 1.0})
    write_manifest(tmp_path / "dev.jsonl", rows)
    capsys.readouterr()
    rc = main(["lm", "tune", "--model", str(words_model), "--manifest", str(tmp_path / "dev.jsonl"), "--lm", str(arpa),
               "--lm-weights", "0", "1", "--word-scores", "0", "2", "--json", str(tmp_path / "tune.json")])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "gone.wav" in err and out.startswith("12 utterances; greedy WER")
    r = json.loads((tmp_path / "tune.json").read_text())
    assert r["n"] == 12 and len(r["grid"]) == 4
    assert r["best"]["wer"] == min(p["wer"] for p in r["grid"])
    assert out.strip().splitlines()[-1].startswith(f"best: WER {r['best']['wer']:.2f}%")
    assert f"--lm {arpa} --lm-weight {r['best']['lm_weight']:g} --word-score {r['best']['word_score']:g}" in out


def test_grid_table_rows_are_weights_columns_scores():
    points = [GridPoint("a.arpa", lw, ws, 10 * lw + ws) for lw in (0.0, 1.0) for ws in (0.0, 2.0)]
    points.append(GridPoint("b.arpa", 0.0, 0.0, 99.0))
    lines = grid_table(points, "a.arpa").splitlines()
    assert lines[0].startswith("a.arpa: WER %")
    assert lines[1].split() == ["0", "2"]
    assert lines[2].split() == ["0", "0.00", "2.00"] and lines[3].split() == ["1", "10.00", "12.00"]
    assert len(lines) == 4


@pytest.mark.parametrize("order", [1, 7])
def test_lm_build_refuses_orders_kenlm_cannot_read(order, tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("the cat\na car\n")
    assert main(["lm", "build", str(text), "--order", str(order), "-o", str(tmp_path / "x.arpa")]) != 0
    assert "--order must be 2 to 6" in capsys.readouterr().err
    assert not (tmp_path / "x.arpa").exists()
