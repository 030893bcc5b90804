"""Beam search (flashlight-text): agrees with greedy without an LM, lexicon mode, word and
character LMs, n-best, input checks and LM-unit detection."""
from __future__ import annotations

import random

import pytest
import torch

pytest.importorskip("flashlight.lib.text.decoder", reason="beam search needs flashlight-text")

from asr.config import DecodeConfig  # noqa: E402
from asr.decoding import GreedyDecoder, make_decoder  # noqa: E402
from asr.decoding.beam import UNLIKELY, BeamSearchDecoder, arpa_unigrams, blank_skip_mask, lm_unit, read_lexicon  # noqa: E402
from asr.decoding.greedy import greedy_decode  # noqa: E402
from asr.lm import char_sentences, estimate, write_arpa  # noqa: E402
from asr.text import Vocabulary  # noqa: E402

VOCAB = Vocabulary()  # blank, space, apostrophe, a-z
FRAME = 0.03

from helpers import log_probs, spell  # noqa: E402


def random_peaky(seed: int) -> torch.Tensor:
    """A random path with repeats (1-3 frames a token), blanks (needed between doubled letters)
    and confidences 0.55-0.99, for words separated by single spaces."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abelost'") for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 4))]
    words = [w.strip("'") or "a" for w in words]
    text = " ".join(words)
    frames, prev = [], None
    for c in text:
        nblank = rng.randint(1 if c == prev else 0, 2)
        frames += ["_"] * nblank + [c] * rng.randint(1, 3)
        prev = c
    frames += ["_"] * rng.randint(0, 2)
    return log_probs([{c: rng.uniform(0.55, 0.99)} for c in frames])


def beam(**kw) -> BeamSearchDecoder:
    return BeamSearchDecoder(VOCAB, DecodeConfig(decoder="beam", **kw), FRAME)


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory) -> str:
    """Word bigrams: 'the' is followed by 'cat', 'a' by 'car'."""
    sentences = [["the", "cat"]] * 10 + [["a", "car"]] * 10 + [["the", "dog"], ["a", "dog"]]
    return str(write_arpa(estimate(sentences, order=2), tmp_path_factory.mktemp("lm") / "words.arpa"))


@pytest.fixture(scope="module")
def char_lm(tmp_path_factory) -> str:
    """A character 5-gram of the same text: 'e|ca' -> t, 'a|ca' -> r."""
    sentences = [["the", "cat"]] * 10 + [["a", "car"]] * 10 + [["the", "dog"], ["a", "dog"]]
    return str(write_arpa(estimate(char_sentences(sentences), order=5), tmp_path_factory.mktemp("lm") / "chars.arpa"))


@pytest.fixture
def lexicon(tmp_path) -> str:
    p = tmp_path / "lexicon.txt"
    p.write_text("the\nCat 1.0\ncar\n\ndog\na\n")  # first column, normalised; blank lines skipped
    return str(p)


# ---------------------------------------------------------------- no LM: beam == greedy
@pytest.mark.parametrize("beam_size", [1, 8, 32])
def test_lexicon_free_without_lm_equals_greedy(beam_size):
    dec = beam(beam_size=beam_size)
    for seed in range(25):
        lp = random_peaky(seed)
        g = greedy_decode(lp, VOCAB, FRAME, offset=1.5)
        (h,) = dec.decode(lp, offset=1.5)
        assert g.text  # the comparison compares something
        assert h.text == g.text and h.tokens == g.tokens, seed
        assert h.words == g.words, seed  # same alignment: same times and confidences
        assert h.score == pytest.approx(g.score, abs=1e-4)


def test_beam_returns_greedy_interface():
    lp = log_probs(spell("ab ba"))
    for dec in (GreedyDecoder(VOCAB, FRAME), beam()):
        (h,) = dec.decode(lp)
        assert h.text == "ab ba"
        assert [w.text for w in h.words] == ["ab", "ba"]
        assert all(0 <= w.confidence <= 1 and w.start < w.end for w in h.words)


def test_all_blank_input_gives_empty_text():
    (h,) = beam().decode(log_probs(["_"] * 10))
    assert h.text == "" and h.tokens == [] and h.words == []


# ---------------------------------------------------------------- lexicon mode
def test_read_lexicon(lexicon):
    assert read_lexicon(lexicon) == ["a", "car", "cat", "dog", "the"]


def test_lexicon_restricts_output_to_its_words(lexicon):
    # Acoustics spell "cax": x is best, then t, then r. Greedy says "cax"; the lexicon has cat, car.
    lp = log_probs(["_", "c", "_", "a", "_", {"x": 0.5, "t": 0.3, "r": 0.15}, "_"])
    assert greedy_decode(lp, VOCAB, FRAME).text == "cax"
    (h,) = beam(lexicon=lexicon).decode(lp)
    assert h.text == "cat"
    lp = log_probs(["_", "c", "_", "a", "_", {"x": 0.5, "t": 0.15, "r": 0.3}, "_"])
    assert beam(lexicon=lexicon).decode(lp)[0].text == "car"


def test_lexicon_output_is_always_lexicon_words(lexicon):
    words = set(read_lexicon(lexicon))
    dec = beam(lexicon=lexicon)
    n_words = 0
    for seed in range(10):
        (h,) = dec.decode(random_peaky(seed))
        n_words += len(h.words)
        assert set(h.text.split()) <= words, (seed, h.text)
        assert [w.text for w in h.words] == h.text.split()
        assert h.tokens == VOCAB.encode(h.text)
    assert n_words > 10  # the random spellings are forced into lexicon words, not just dropped


def test_lexicon_splits_words_without_spaces(lexicon):
    lp = log_probs(spell("thecat"))
    assert greedy_decode(lp, VOCAB, FRAME).text == "thecat"
    (h,) = beam(lexicon=lexicon).decode(lp)
    assert h.text == "the cat"
    the, cat = h.words
    # Frames: _ t _ h _ e _ c _ a _ t _ -> "the" spans frames 1-5, "cat" frames 7-11.
    assert (the.start, the.end) == pytest.approx((1 * FRAME, 6 * FRAME))
    assert (cat.start, cat.end) == pytest.approx((7 * FRAME, 12 * FRAME))


@pytest.mark.parametrize("frames,text", [
    (["_", "t", "h", "e", "e", "_", " ", " ", "c", "a", "a", "t", "t", "_"], "the cat"),  # last letters held
    (["t", "t", "h", "e", "e", " ", "d", "o", "g", "g", "g"], "the dog"),
    (["a", "a", "_", " ", "c", "a", "r", "r"], "a car"),
])
def test_lexicon_words_whose_letters_last_several_frames(lexicon, frames, text):
    """A CTC model often holds a word's last letter for several frames: that must not cost the
    hypothesis anything or insert a word (the lexicon has the one-letter word 'a')."""
    lp = log_probs(frames)
    g = greedy_decode(lp, VOCAB, FRAME)
    assert g.text == text
    (h,) = beam(lexicon=lexicon).decode(lp)
    assert h.text == text
    assert h.score == pytest.approx(g.score, abs=1e-4)  # the greedy path itself is allowed
    assert h.words == g.words


# ---------------------------------------------------------------- word LM
def test_word_lm_decides_what_acoustics_leave_open(word_lm):
    assert lm_unit(word_lm) == "word"
    # "the ca?": acoustics lean slightly to r; the LM has only ever seen "the cat".
    the_ca_r = log_probs(spell("the ca") + [{"r": 0.45, "t": 0.4}, "_"])
    # "a ca?": acoustics lean slightly to t; the LM has only ever seen "a car".
    a_ca_t = log_probs(spell("a ca") + [{"t": 0.45, "r": 0.4}, "_"])
    with_lm = beam(lm=word_lm, lm_weight=1.0)
    assert with_lm.lexicon_mode
    assert with_lm.decode(the_ca_r)[0].text == "the cat"
    assert with_lm.decode(a_ca_t)[0].text == "a car"
    acoustics_only = beam(lm=word_lm, lm_weight=0.0)
    assert acoustics_only.decode(the_ca_r)[0].text == "the car"
    assert acoustics_only.decode(a_ca_t)[0].text == "a cat"


def test_word_lm_lexicon_is_its_vocabulary(word_lm):
    assert sorted(arpa_unigrams(word_lm)) == ["a", "car", "cat", "dog", "the"]
    # Acoustics spell "the cow" (not in the LM): the closest LM words come out instead.
    lp = log_probs(spell("the c") + [{"o": 0.5, "a": 0.3}, "_", {"w": 0.5, "t": 0.2, "r": 0.2}, "_"])
    (h,) = beam(lm=word_lm, lm_weight=1.0).decode(lp)
    assert h.text == "the cat"


@pytest.fixture(scope="module")
def upper_word_lm(tmp_path_factory) -> str:
    """``word_lm`` spelled in upper case, as LibriSpeech's published LMs are."""
    sentences = [["THE", "CAT"]] * 10 + [["A", "CAR"]] * 10 + [["THE", "DOG"], ["A", "DOG"]]
    return str(write_arpa(estimate(sentences, order=2), tmp_path_factory.mktemp("lm") / "upper.arpa"))


def _lm_cases():
    the_ca_r = log_probs(spell("the ca") + [{"r": 0.45, "t": 0.4}, "_"])
    a_ca_t = log_probs(spell("a ca") + [{"t": 0.45, "r": 0.4}, "_"])
    return the_ca_r, a_ca_t


def test_upper_case_word_lm_scores_like_the_lower_case_one(word_lm, upper_word_lm):
    """An upper-case ARPA is used, not silently scored as all-<unk>: the same texts (in our
    lower case) and the same scores as the lower-case LM."""
    lower, upper = beam(lm=word_lm, lm_weight=1.0), beam(lm=upper_word_lm, lm_weight=1.0)
    for lp in _lm_cases():
        a, b = lower.decode(lp)[0], upper.decode(lp)[0]
        assert b.text == a.text and b.score == pytest.approx(a.score)
        assert [w.text for w in b.words] == [w.text for w in a.words]
    assert [upper.decode(lp)[0].text for lp in _lm_cases()] == ["the cat", "a car"]


def test_upper_case_kenlm_binary_is_probed(upper_word_lm, lexicon, monkeypatch):
    """A KenLM binary does not list its words: the casing that the LM knows is found by scoring."""
    import asr.decoding.beam as beam_mod

    assert beam_mod.lm_spellings(upper_word_lm, ["the", "cat"]) == {"the": "THE", "cat": "CAT"}
    monkeypatch.setattr(beam_mod, "is_arpa", lambda path: False)  # take the binary path on the ARPA file
    assert beam_mod.lm_spellings(upper_word_lm, ["the", "cat", "car", "dog", "a"]) == {
        "the": "THE", "cat": "CAT", "car": "CAR", "dog": "DOG", "a": "A"}
    dec = beam(lm=upper_word_lm, lm_unit="word", lexicon=lexicon, lm_weight=1.0)
    assert [dec.decode(lp)[0].text for lp in _lm_cases()] == ["the cat", "a car"]


# ---------------------------------------------------------------- character LM
def test_char_lm_in_lexicon_free_mode(char_lm):
    units = arpa_unigrams(char_lm)
    assert "|" in units and all(len(u) == 1 for u in units)
    assert lm_unit(char_lm) == "char"
    the_ca_r = log_probs(spell("the ca") + [{"r": 0.45, "t": 0.4}, "_"])
    a_ca_t = log_probs(spell("a ca") + [{"t": 0.45, "r": 0.4}, "_"])
    with_lm = beam(lm=char_lm, lm_weight=1.0)
    assert not with_lm.lexicon_mode
    assert with_lm.decode(the_ca_r)[0].text == "the cat"
    assert with_lm.decode(a_ca_t)[0].text == "a car"
    acoustics_only = beam(lm=char_lm, lm_weight=0.0)
    assert acoustics_only.decode(the_ca_r)[0].text == "the car"
    assert acoustics_only.decode(a_ca_t)[0].text == "a cat"
    # Lexicon-free: a word the LM never saw can still come out when the acoustics say so.
    (h,) = with_lm.decode(log_probs(spell("the cow")))
    assert h.text == "the cow"


def test_declared_lm_unit_overrides_detection(char_lm, word_lm):
    assert lm_unit(char_lm, "word") == "word"
    assert lm_unit(word_lm, "char") == "char"
    assert beam(lm=word_lm, lm_unit="char").lexicon_mode is False


# ---------------------------------------------------------------- n-best
@pytest.mark.parametrize("kw", [{}, {"lexicon_words": True}])
def test_nbest_distinct_sorted_best_first(kw, tmp_path):
    extra = {}
    if kw:
        lex = tmp_path / "lex.txt"
        lex.write_text("the\ncat\ncar\nhat\nhas\nsat\nmat\nman\nthe\non\nan\na\n")
        extra = {"lexicon": str(lex)}
    frames = []
    for c in "the cat sat on a mat":
        frames += [{c: 0.4}, "_"]
    lp = log_probs(frames)
    best = beam(**extra).decode(lp)
    assert len(best) == 1
    hyps = beam(nbest=5, **extra).decode(lp)
    assert len(hyps) == 5
    texts = [h.text for h in hyps]
    assert len(set(texts)) == 5
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert hyps[0].text == best[0].text == "the cat sat on a mat"
    assert hyps[0].score == pytest.approx(best[0].score)


# ---------------------------------------------------------------- checks
def test_bad_log_prob_shape_raises():
    dec = beam()
    for bad in (torch.zeros(10), torch.zeros(10, len(VOCAB) + 1), torch.zeros(1, 10, len(VOCAB))):
        with pytest.raises(ValueError, match="shape"):
            dec.decode(bad)


def test_greedy_with_beam_options_raises(word_lm):
    for cfg in (DecodeConfig(lm=word_lm), DecodeConfig(nbest=3), DecodeConfig(hotwords=["cat"]),
                DecodeConfig(lexicon="words.txt")):
        with pytest.raises(ValueError, match="beam"):
            make_decoder(VOCAB, cfg, FRAME)
    assert isinstance(make_decoder(VOCAB, DecodeConfig(), FRAME), GreedyDecoder)
    assert isinstance(make_decoder(VOCAB, DecodeConfig(decoder="beam"), FRAME), BeamSearchDecoder)


def test_kenlm_binary_needs_lm_unit(tmp_path):
    binary = tmp_path / "lm.bin"
    binary.write_bytes(b"mmap lm http://kheafield.com/code format version 5\n\0\0\0" + bytes(range(256)))
    with pytest.raises(ValueError, match="lm_unit"):
        lm_unit(str(binary))
    with pytest.raises(ValueError, match="lm_unit"):
        beam(lm=str(binary))
    assert lm_unit(str(binary), "char") == "char"


def test_vocabulary_without_space_raises():
    with pytest.raises(ValueError, match="space"):
        BeamSearchDecoder(Vocabulary("abc"), DecodeConfig(decoder="beam"), FRAME)


def test_empty_lexicon_raises(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n!!!\n")
    with pytest.raises(ValueError, match="lexicon"):
        beam(lexicon=str(empty))


def test_lexicon_text_comes_from_words_not_the_collapsed_path(tmp_path):
    """flashlight's lexicon search may spell a double letter with no blank between ("three" as
    t h r e e e): the text must be the lexicon word, not the collapsed path ("thre")."""
    lex = tmp_path / "lex.txt"
    lex.write_text("three\ntree\nfree\n")
    lp = log_probs(["_", "t", "h", "r", "e", "e", "e", "_"])
    assert greedy_decode(lp, VOCAB, FRAME).text == "thre"
    (h,) = beam(lexicon=str(lex)).decode(lp)
    assert h.text == "three"
    assert h.words[0].start == pytest.approx(FRAME) and h.words[0].end == pytest.approx(7 * FRAME)


# ---------------------------------------------------------------- skipping runs of near-certain blanks
def confident_runs(seed: int, words: tuple = ("the", "cat", "car", "a", "dog", "aa", "too")) -> torch.Tensor:
    """Words separated by long runs of near-certain blanks (p = 0.9995), doubled letters split by
    such a run, and letters held for several frames: real CTC output looks like this."""
    rng = random.Random(seed)
    frames: list = [{"_": 0.9995}] * rng.randint(0, 6)
    for w in rng.sample(words, 3):
        for c in " " + w:
            frames += [{c: rng.uniform(0.6, 0.99)}] * rng.randint(1, 3)
            frames += [{"_": 0.9995}] * rng.randint(1, 5) + [{"_": rng.uniform(0.5, 0.99)}] * rng.randint(0, 1)
    return log_probs(frames)


def test_blank_skip_mask_keeps_the_first_frame_of_each_run():
    lp = log_probs([{"_": 0.9995}, {"_": 0.9995}, "a", {"_": 0.9995}, {"_": 0.9995}, {"_": 0.9995}, "a", "_"])
    mask, last = blank_skip_mask(lp, VOCAB.blank, 0.999)
    assert mask.tolist() == [False, True, False, False, True, True, False, False] and not last
    mask, last = blank_skip_mask(lp[:2], VOCAB.blank, 0.999, prev_confident=True)
    assert mask.tolist() == [True, True] and last  # a run that began in the previous chunk
    assert not blank_skip_mask(lp, VOCAB.blank, 0.0)[0].any()


@pytest.mark.parametrize("mode", ["free", "lexicon", "word_lm"])
def test_blank_skip_changes_nothing_but_the_work(mode, lexicon, word_lm):
    kw = {"free": {}, "lexicon": {"lexicon": lexicon}, "word_lm": {"lm": word_lm, "lm_weight": 1.0}}[mode]
    skipping, full = beam(beam_size=16, blank_skip=0.999, **kw), beam(beam_size=16, blank_skip=0.0, **kw)
    for seed in range(20):
        # lexicon modes: lexicon words only, else the search must place some word on blank frames
        lp = confident_runs(seed, *([] if mode == "free" else [("the", "cat", "car", "a", "dog")]))
        assert blank_skip_mask(lp, VOCAB.blank, 0.999)[0].sum() > lp.shape[0] // 4  # there is work to skip
        a, b = skipping.decode(lp, offset=2.0)[0], full.decode(lp, offset=2.0)[0]
        assert a.text and a.text == b.text, seed
        assert a.words == b.words, seed  # same times and confidences
        assert a.score == pytest.approx(b.score, abs=1e-3)


@pytest.mark.parametrize("mode", ["free", "word_lm"])
def test_blank_skip_in_chunks_equals_offline(mode, word_lm):
    """The streaming decoder skips the same frames when runs cross chunk boundaries, and in
    lexicon mode ends with the same free frame (so the last word completes)."""
    from asr.decoding.greedy import collapse
    from asr.streaming import _BeamStream

    dec = beam(beam_size=16, **({"lm": word_lm, "lm_weight": 1.0} if mode == "word_lm" else {}))
    for seed in range(10):
        lp = confident_runs(seed, *([] if mode == "free" else [("the", "cat", "car", "a", "dog")]))
        stream = _BeamStream(dec)
        for i in range(0, lp.shape[0], 3 + seed):
            stream.step(lp[i : i + 3 + seed])
        stream.finish()
        hyp, path = stream.best()
        assert VOCAB.decode([k for k, _, _ in collapse(path)]).split() == dec.decode(lp)[0].text.split(), seed
        assert hyp.words == dec.decode(lp)[0].words, seed


def test_token_min_logp_drops_unlikely_tokens_but_never_a_frames_best():
    dec = beam(beam_size=8, token_min_logp=-5.0)
    em = log_probs([{"a": 0.9}, {"_": 0.99}, {"b": 0.4, "c": 0.35}]).numpy().copy()
    em[2, :] = -20.0  # a frame where every token is unlikely: its best must stay
    em[2, VOCAB.encode("b")[0]] = -9.0
    before = em.copy()
    dec.drop_unlikely(em)
    assert (em.argmax(1) == before.argmax(1)).all()  # every frame keeps its best token
    kept = em > UNLIKELY  # tried tokens
    assert (kept == ((before >= -5.0) | (before == before.max(1, keepdims=True)))).all()
    assert kept[2].sum() == 1 and kept[0].sum() >= 1


@pytest.mark.parametrize("mode", ["free", "word_lm"])
def test_token_min_logp_keeps_the_answer_on_confident_speech(mode, word_lm):
    kw = {"free": {}, "word_lm": {"lm": word_lm, "lm_weight": 1.0}}[mode]
    pruned, full = beam(beam_size=16, token_min_logp=-5.0, **kw), beam(beam_size=16, **kw)
    for seed in range(20):
        # with a word LM the speech must be lexicon words, else the search needs unlikely tokens
        lp = random_peaky(seed) if mode == "free" else confident_runs(seed, ("the", "cat", "car", "a", "dog"))
        a, b = pruned.decode(lp)[0], full.decode(lp)[0]
        assert a.text and a.text == b.text and a.words == b.words, seed
