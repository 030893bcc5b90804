"""Hotword biasing: parsing, the hotwords file, and its effect on beam search in lexicon-free and
lexicon modes (a boost tips a close call, cannot invent a word, and never rewards a fragment)."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("flashlight.lib.text.decoder", reason="beam search needs flashlight-text")

from asr.config import DecodeConfig  # noqa: E402
from asr.decoding.beam import BeamSearchDecoder  # noqa: E402
from asr.decoding.greedy import greedy_decode  # noqa: E402
from asr.decoding.hotwords import parse_hotwords, read_hotwords_file  # noqa: E402
from asr.text import Vocabulary  # noqa: E402

VOCAB = Vocabulary()
FRAME = 0.03

from helpers import log_probs, spell  # noqa: E402
LEXICON_WORDS = ["the", "cat", "car", "cap", "cup", "dog", "new", "old", "york", "yolk", "a"]


@pytest.fixture(params=["lexicon-free", "lexicon"])
def decode(request, tmp_path):
    """decode(log_probs, hotwords=[...], boost=...) -> best text, in either mode."""
    lexicon = None
    if request.param == "lexicon":
        lexicon = tmp_path / "lexicon.txt"
        lexicon.write_text("\n".join(LEXICON_WORDS) + "\n")

    def run(lp: torch.Tensor, hotwords: list[str] = (), boost: float = 4.0) -> str:
        cfg = DecodeConfig(decoder="beam", lexicon=str(lexicon) if lexicon else None, hotwords=list(hotwords),
                           hotword_boost=boost)
        dec = BeamSearchDecoder(VOCAB, cfg, FRAME)
        assert dec.lexicon_mode == (lexicon is not None)
        return dec.decode(lp)[0].text

    run.mode = request.param
    return run


# ---------------------------------------------------------------- parsing
def test_parse_hotwords():
    assert parse_hotwords(["word", "new york:6.5"], 4.0) == {"word": 4.0, "new york": 6.5}
    assert parse_hotwords(["Café", "  New-York : 2 "], 1.5) == {"cafe": 1.5, "new york": 2.0}  # normalised
    assert parse_hotwords(["word:"], 3.0) == {"word": 3.0}  # empty boost -> default
    assert parse_hotwords(["word:-1.5"], 3.0) == {"word": -1.5}
    assert parse_hotwords(["a:1", "a:2"], 3.0) == {"a": 2.0}  # the last one wins
    assert parse_hotwords([], 3.0) == {}


@pytest.mark.parametrize("item", ["cat:lots", "new york:6.5x", "a:1:b"])
def test_bad_boost_names_the_item(item):
    with pytest.raises(ValueError) as e:
        parse_hotwords(["fine", item], 4.0)
    assert repr(item) in str(e.value) and "boost" in str(e.value)


@pytest.mark.parametrize("item", ["", "   ", ":3", "123", "!!!:2"])
def test_hotword_without_letters_raises(item):
    with pytest.raises(ValueError, match="no letters"):
        parse_hotwords([item], 4.0)


def test_read_hotwords_file(tmp_path):
    p = tmp_path / "hot.txt"
    p.write_text("# names to favour\n\nkubernetes\nnew york\t6.5\n  cat:2   # trailing comment\n\t\n# done\n")
    items = read_hotwords_file(str(p))
    assert items == ["kubernetes", "new york:6.5", "cat:2"]
    assert parse_hotwords(items, 4.0) == {"kubernetes": 4.0, "new york": 6.5, "cat": 2.0}


def test_hotwords_need_positive_lm_weight(tmp_path):
    from asr.lm import estimate, write_arpa

    arpa = write_arpa(estimate([["the", "cat"]], order=2), tmp_path / "lm.arpa")
    with pytest.raises(ValueError, match="lm_weight"):
        BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lm=str(arpa), lm_weight=0.0, hotwords=["cat"]), FRAME)


# ---------------------------------------------------------------- effect on decoding
def test_boost_tips_a_close_call(decode):
    # "the ca?": the acoustics lean slightly to r.
    lp = log_probs(spell("the ca") + [{"r": 0.45, "t": 0.4}, "_"])
    assert decode(lp) == "the car"
    assert decode(lp, ["cat"]) == "the cat"
    assert decode(lp, ["car"]) == "the car"
    assert decode(lp, ["cat:0.01"]) == "the car"  # a tiny boost is not enough
    assert decode(lp, ["cat:-3"]) == "the car"


def test_boost_does_not_invent_an_absent_word(decode):
    # The acoustics clearly say "the dog": boosting "cat" (hard) changes nothing.
    lp = log_probs(spell("the dog"))
    assert decode(lp) == "the dog"
    assert decode(lp, ["cat"], boost=6.0) == "the dog"
    assert decode(lp, ["cat", "new york"], boost=6.0) == "the dog"


def test_unboosted_transcript_unchanged(decode):
    lp = log_probs(spell("old dog a cup"))
    assert decode(lp) == decode(lp, ["york", "cat:2"]) == "old dog a cup"


def test_partial_match_gets_no_bonus(decode):
    """"cup" vs "cap": the acoustics lean to u. A hotword "cat" shares the prefix "ca" with "cap";
    a hypothesis that starts the hotword and breaks off ("ca" + "p") must not be favoured."""
    # p is certain: even the whole bonus of "cat" (8) cannot buy a t there (log(0.9995 / 2e-5) > 10).
    lp = log_probs(["_", "c", "_", {"u": 0.5, "a": 0.4}, "_", {"p": 0.9995}, "_"])
    assert decode(lp) == "cup"
    assert decode(lp, ["cat"], boost=8.0) == "cup"
    # ... while the same boost does pull "cap" over "cup" when "cap" is the hotword.
    assert decode(lp, ["cap"], boost=8.0) == "cap"


def test_longer_word_starting_with_the_hotword_gets_no_bonus():
    """Lexicon-free: "cat" boosted must not favour "cats"-like continuations over the acoustics; the
    boost is kept only when the phrase is followed by a space or the end."""
    lp = log_probs(spell("the cat") + [{"s": 0.6, "_": 0.3}, "_"])
    dec = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", hotwords=["cat"], hotword_boost=8.0), FRAME)
    plain = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam"), FRAME)
    assert plain.decode(lp)[0].text == "the cats"
    # With the boost, "the cat" (word complete at the end) gains 8 nats; "the cats" gains nothing.
    assert dec.decode(lp)[0].text == "the cat"
    # Boosting "ca" must not reward "cat" (a longer word that starts with it).
    lp2 = log_probs(spell("the c") + [{"a": 0.9}, "_", {"t": 0.5, "_": 0.4}, "_"])
    ca = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", hotwords=["ca"], hotword_boost=8.0), FRAME)
    assert plain.decode(lp2)[0].text == "the cat"
    assert ca.decode(lp2)[0].text == "the ca"


def test_multi_word_phrase(decode):
    # "new yo?k": the acoustics lean to l ("new yolk").
    lp = log_probs(spell("new yo") + [{"l": 0.45, "r": 0.4}, "_", "k", "_"])
    assert decode(lp) == "new yolk"
    assert decode(lp, ["new york"]) == "new york"
    assert decode(lp, ["new york:0.01"]) == "new yolk"


def test_phrase_boost_needs_the_whole_phrase_lexicon_free():
    """Lexicon-free, the phrase "new york" is one unit: "old yo?k" does not get its bonus (in
    lexicon mode a phrase's words are boosted one by one, by design)."""
    lp = log_probs(spell("old yo") + [{"l": 0.45, "r": 0.4}, "_", "k", "_"])
    dec = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", hotwords=["new york"], hotword_boost=6.0), FRAME)
    assert greedy_decode(lp, VOCAB, FRAME).text == "old yolk"
    assert dec.decode(lp)[0].text == "old yolk"


def test_hotword_is_added_to_the_lexicon(tmp_path):
    """Lexicon mode: a hotword outside the lexicon becomes decodable."""
    lex = tmp_path / "lexicon.txt"
    lex.write_text("the\ncat\n")
    lp = log_probs(spell("the dog"))
    plain = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lexicon=str(lex)), FRAME)
    assert plain.decode(lp)[0].text != "the dog"
    dec = BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", lexicon=str(lex), hotwords=["dog"]), FRAME)
    assert dec.decode(lp)[0].text == "the dog"


def test_hotword_that_a_longer_phrase_continues():
    """Lexicon-free: with both "new" and "new york" boosted, "new" followed by another word keeps
    its bonus when the longer phrase breaks off after it."""
    lp = log_probs(spell("ne") + [{"x": 0.45, "w": 0.4}, "_"] + spell(" dog"))

    def run(hotwords):
        return BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", hotwords=hotwords), FRAME).decode(lp)[0].text

    assert run([]) == "nex dog"
    assert run(["new"]) == "new dog"
    assert run(["new", "new york"]) == run(["new york", "new"]) == "new dog"
    assert run(["new york"]) == "nex dog"  # "new" alone is only a fragment of the phrase


def test_phrase_can_start_where_another_broke_off():
    """Lexicon-free: after "new" (the start of "new york") comes "do?" - the word after the
    broken-off phrase can itself be a hotword."""
    lp = log_probs(spell("new do") + [{"t": 0.45, "g": 0.4}, "_"])

    def run(hotwords):
        return BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", hotwords=hotwords), FRAME).decode(lp)[0].text

    assert run([]) == "new dot"
    assert run(["dog"]) == "new dog"
    assert run(["new york", "dog"]) == "new dog"
