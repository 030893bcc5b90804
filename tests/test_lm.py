"""Modified Kneser-Ney estimation: hand-computed bigram values, normalisation at orders 2-4, the
ARPA file (and KenLM reading it the same way), and ``asr lm build``."""
from __future__ import annotations

import json
import math
import random
from fractions import Fraction as F

import pytest

from asr.cli import main
from asr.lm import char_sentences, estimate, read_sentences, spelled_sentences, write_arpa
from asr.lm.ngram import BOS, DEFAULT_DISCOUNTS, EOS, UNK


def parse_arpa(path) -> tuple[dict[int, int], dict[int, dict[tuple, tuple[float, float | None]]]]:
    """-> (header counts {n: count}, {n: {ngram: (log10 p, log10 backoff or None)}})."""
    header: dict[int, int] = {}
    sections: dict[int, dict] = {}
    lines = open(path, encoding="utf-8").read().split("\n")
    assert lines[0] == "\\data\\"
    order, i = None, 1
    while lines[i].startswith("ngram "):
        n, c = lines[i][len("ngram "):].split("=")
        header[int(n)] = int(c)
        i += 1
    assert lines[-2:] == ["\\end\\", ""]
    for line in lines[i:-2]:
        if not line:
            continue
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:-len("-grams:")])
            sections[order] = {}
            continue
        fields = line.split("\t")
        assert order is not None and len(fields) in (2, 3), line
        ng = tuple(fields[1].split(" "))
        assert len(ng) == order, line
        assert ng not in sections[order], f"duplicate n-gram {ng}"
        sections[order][ng] = (float(fields[0]), float(fields[2]) if len(fields) == 3 else None)
    return header, sections


WORDS = "the a cat dog sat ran on mat hat big red up down in out it is was he she".split()


def random_corpus(seed: int, n: int = 80) -> list[list[str]]:
    """Zipf-distributed words, so that counts of 1, 2, 3 and 4+ all occur (estimated discounts)."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return [rng.choices(WORDS, weights=weights, k=rng.randint(1, 6)) for _ in range(n)]


# ---------------------------------------------------------------- hand-computed bigram models
# Corpus with enough data for estimated discounts at both orders:
#   <s> d a </s> | <s> d </s> | <s> a b b </s> | <s> d b </s> | <s> a b </s> | <s> b </s>
CORPUS = [["d", "a"], ["d"], ["a", "b", "b"], ["d", "b"], ["a", "b"], ["b"]]
# Bigram counts, read off the sentences above.
BIGRAMS = {("<s>", "d"): 3, ("<s>", "a"): 2, ("<s>", "b"): 1, ("d", "a"): 1, ("d", "</s>"): 1, ("d", "b"): 1,
           ("a", "</s>"): 1, ("a", "b"): 2, ("b", "b"): 1, ("b", "</s>"): 4}
# Unigram continuation counts N1+(. w): d after {<s>}, a after {<s>, d}, b after {<s>, a, b, d},
# </s> after {d, a, b}.
CONT = {"d": 1, "a": 2, "b": 4, "</s>": 3}


def mkn_discounts(t1: int, t2: int, t3: int, t4: int) -> tuple[F, F, F]:
    y = F(t1, t1 + 2 * t2)
    return 1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3


# Unigram count-of-counts t1..t4 = 1, 1, 1, 1 -> Y = 1/3, D = 1/3, 1, 5/3.
D_UNI = (F(1, 3), F(1), F(5, 3))
# Bigram count-of-counts t1..t4 = 6, 2, 1, 1 -> Y = 3/5, D = 3/5, 11/10, 3/5.
D_BI = (F(3, 5), F(11, 10), F(3, 5))


def disc(c: int, d: tuple[F, F, F]) -> F:
    return d[min(c, 3) - 1]


def expected_unigram() -> dict[str, F]:
    total = sum(CONT.values())  # 10
    gamma = sum(disc(c, D_UNI) for c in CONT.values()) / total  # (1/3 + 1 + 5/3 + 5/3) / 10 = 7/15
    uniform = F(1, 5)  # a, b, d, </s>, <unk>
    p = {w: (c - disc(c, D_UNI)) / total + gamma * uniform for w, c in CONT.items()}
    p["<unk>"] = gamma * uniform
    return p


def expected_bigram(h: str, w: str) -> F:
    uni = expected_unigram()
    ext = {v: c for (g, v), c in BIGRAMS.items() if g == h}
    if not ext:  # e.g. the context </s>: nothing follows, all mass backs off
        return uni[w]
    total = sum(ext.values())
    gamma = sum(disc(c, D_BI) for c in ext.values()) / total
    c = ext.get(w, 0)
    return (c - disc(c, D_BI)) / total + gamma * uni[w] if c else gamma * uni[w]


def test_hand_counts_match_the_corpus():
    """The count tables above are the corpus's (so the hand values below test the estimator)."""
    from collections import Counter

    bigrams = Counter((h, w) for s in CORPUS for h, w in zip([BOS] + s, s + [EOS]))
    assert dict(bigrams) == BIGRAMS
    assert dict(Counter(w for _, w in bigrams)) == CONT
    assert sorted(Counter(bigrams.values()).items()) == [(1, 6), (2, 2), (3, 1), (4, 1)]
    assert sorted(Counter(CONT.values()).items()) == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert mkn_discounts(1, 1, 1, 1) == D_UNI and mkn_discounts(6, 2, 1, 1) == D_BI


def test_estimated_discounts_and_unigrams_by_hand():
    m = estimate(CORPUS, order=2)
    for got, want in zip(m.discounts[1], D_UNI):
        assert got == pytest.approx(float(want), abs=1e-12)
    for got, want in zip(m.discounts[2], D_BI):
        assert got == pytest.approx(float(want), abs=1e-12)
    uni = expected_unigram()
    # Written out: p(d) = (1 - 1/3)/10 + (7/15)/5 = 4/25; p(b) = (4 - 5/3)/10 + 7/75 = 49/150; ...
    assert uni == {"d": F(4, 25), "a": F(29, 150), "b": F(49, 150), "</s>": F(34, 150), "<unk>": F(14, 150)}
    for w, p in uni.items():
        assert m.logprob(w) == pytest.approx(math.log10(p), abs=1e-6)
    assert m.probs[1][(BOS,)] == -99.0


def test_bigram_probabilities_by_hand():
    m = estimate(CORPUS, order=2)
    # Spot values written out: context <s> has counts d:3 a:2 b:1, gamma = (3/5 + 11/10 + 3/5) / 6.
    g_bos = (F(3, 5) + F(11, 10) + F(3, 5)) / 6
    assert expected_bigram("<s>", "d") == (3 - F(3, 5)) / 6 + g_bos * F(4, 25)
    assert expected_bigram("b", "</s>") == (4 - F(3, 5)) / 5 + F(6, 5) / 5 * F(34, 150)
    assert expected_bigram("b", "a") == F(6, 5) / 5 * F(29, 150)  # unseen: backoff only
    for h in ["<s>", "a", "b", "d", "</s>"]:
        for w in ["a", "b", "d", "</s>", "<unk>"]:
            assert m.logprob(w, [h]) == pytest.approx(math.log10(expected_bigram(h, w)), abs=1e-6), (h, w)
    # A word never seen, in any context, is <unk>.
    assert m.logprob("zebra", ["a"]) == pytest.approx(math.log10(expected_bigram("a", "<unk>")), abs=1e-6)


def test_arpa_values_by_hand(tmp_path):
    m = estimate(CORPUS, order=2)
    header, sec = parse_arpa(write_arpa(m, tmp_path / "lm.arpa"))
    assert header == {1: 6, 2: len(BIGRAMS)}  # a b d </s> <s> <unk>
    assert set(sec[2]) == set(BIGRAMS)
    for (h, w), (lp, bo) in sec[2].items():
        assert bo is None
        assert lp == pytest.approx(math.log10(expected_bigram(h, w)), abs=1e-6)
    for w, p in expected_unigram().items():
        assert sec[1][(w,)][0] == pytest.approx(math.log10(p), abs=1e-6)
    # Backoff weights are log10 gamma(h); a context with nothing after it (</s>) backs off fully.
    for h in ["<s>", "a", "b", "d"]:
        ext = [c for (g, _), c in BIGRAMS.items() if g == h]
        gamma = sum(disc(c, D_BI) for c in ext) / sum(ext)
        assert sec[1][(h,)][1] == pytest.approx(math.log10(gamma), abs=1e-6), h
    assert sec[1][("</s>",)][1] == 0.0 and sec[1][("<unk>",)][1] == 0.0
    assert sec[1][("<s>",)][0] == -99.0


def test_default_discounts_on_too_little_data_by_hand():
    """<s> a b </s>, <s> b </s>: no count occurs 3 times, so D = 0.5, 1, 1.5 at both orders."""
    m = estimate([["a", "b"], ["b"]], order=2)
    assert m.discounts[1] == DEFAULT_DISCOUNTS and m.discounts[2] == DEFAULT_DISCOUNTS
    # Continuation counts a:1 b:2 </s>:1 (total 4); gamma = (0.5 + 1 + 0.5) / 4 = 1/2; uniform 1/4.
    expected = {
        ("a",): 0.5 / 4 + 0.5 / 4,  # 0.25
        ("b",): 1.0 / 4 + 0.5 / 4,  # 0.375
        ("</s>",): 0.25,
        ("<unk>",): 0.5 / 4,
        ("<s>", "a"): 0.5 / 2 + 0.5 * 0.25,  # counts a:1 b:1 after <s>, gamma 1/2
        ("<s>", "b"): 0.5 / 2 + 0.5 * 0.375,
        ("a", "b"): 0.5 / 1 + 0.5 * 0.375,
        ("b", "</s>"): 1.0 / 2 + 0.5 * 0.25,  # count 2 -> D2 = 1, gamma = 1/2
        ("b", "a"): 0.5 * 0.25,  # backoff
        ("a", "<unk>"): 0.5 * 0.125,
    }
    for ng, p in expected.items():
        assert m.logprob(ng[-1], ng[:-1]) == pytest.approx(math.log10(p), abs=1e-9), ng


# ---------------------------------------------------------------- normalisation
def contexts(m, n_unseen: int = 5) -> list[tuple]:
    """Every context stored in the model (shorter than its order), plus a few never seen."""
    out = [ng for n in range(1, m.order) for ng in m.probs[n]] + [()]
    out += [("zebra",), ("mat", "zebra"), ("zebra", "the"), ("the", "the", "the"), ("on", "on")][:n_unseen]
    return out


@pytest.mark.parametrize("order", [2, 3, 4])
def test_every_context_sums_to_one(order):
    corpus = random_corpus(seed=order)
    m = estimate(corpus, order=order)
    assert all(len(d) == 3 for d in m.discounts[1:])
    assert any(d != DEFAULT_DISCOUNTS for d in m.discounts[1:])  # estimated, not the fallback
    vocab = sorted({w for s in corpus for w in s}) + [EOS, UNK]
    ctxs = contexts(m)
    assert len(ctxs) > 20
    for h in ctxs:
        total = sum(10 ** m.logprob(w, h) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-6), h


def test_order_one_and_bad_order():
    m = estimate([["a", "b"], ["a"]], order=1)
    assert sum(10 ** m.logprob(w) for w in ["a", "b", EOS, UNK]) == pytest.approx(1.0, abs=1e-9)
    assert m.logprob("a", ["b"]) == m.logprob("a")
    with pytest.raises(ValueError, match="order"):
        estimate([["a"]], order=0)


def test_empty_input_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="no sentences"):
        estimate([], order=3)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n!!!\n")  # blank lines and a line with nothing left after normalising
    with pytest.raises(ValueError, match="no sentences"):
        estimate(read_sentences([empty]), order=2)


# ---------------------------------------------------------------- ARPA file
@pytest.mark.parametrize("order", [2, 3, 4])
def test_arpa_counts_and_values(tmp_path, order):
    m = estimate(random_corpus(seed=10 + order), order=order)
    header, sec = parse_arpa(write_arpa(m, tmp_path / "sub" / "lm.arpa"))
    assert not list((tmp_path / "sub").glob("*.tmp"))
    assert header == {n: len(sec[n]) for n in range(1, order + 1)}
    for n in range(1, order + 1):
        assert set(sec[n]) == set(m.probs[n])
        for ng, (lp, bo) in sec[n].items():
            assert lp == pytest.approx(m.probs[n][ng], abs=1e-6)
            assert lp <= 0
            assert (bo is None) == (n == order)
            if bo is not None:
                assert bo == pytest.approx(m.backoffs[n].get(ng, 0.0), abs=1e-6)
        # KenLM needs the context of every n-gram to be an (n-1)-gram of the file.
        if n > 1:
            assert all(ng[:-1] in sec[n - 1] for ng in sec[n])
            assert all(ng[1:] in sec[n - 1] for ng in sec[n])


# ---------------------------------------------------------------- KenLM reads it the same way
@pytest.fixture
def kenlm():
    return pytest.importorskip("kenlm", reason="the kenlm Python module is not installed (pip install kenlm)")


def our_sentence_score(m, words: list[str]) -> float:
    toks = [BOS] + words + [EOS]
    return sum(m.logprob(toks[i], toks[max(0, i - m.order + 1):i]) for i in range(1, len(toks)))


@pytest.mark.parametrize("order", [2, 3, 4])
def test_kenlm_scores_equal_ours(tmp_path, kenlm, order):
    corpus = random_corpus(seed=20 + order)
    m = estimate(corpus, order=order)
    lm = kenlm.Model(str(write_arpa(m, tmp_path / "lm.arpa")))
    assert lm.order == order
    rng = random.Random(order)
    sentences = corpus[:20] + [[rng.choice(["the", "cat", "mat", "zebra", "on"]) for _ in range(5)] for _ in range(20)]
    for s in sentences:
        assert lm.score(" ".join(s), bos=True, eos=True) == pytest.approx(our_sentence_score(m, s), abs=1e-4), s


@pytest.mark.parametrize("order", [2, 3])
def test_kenlm_context_distributions_sum_to_one(tmp_path, kenlm, order):
    corpus = random_corpus(seed=30 + order)
    m = estimate(corpus, order=order)
    lm = kenlm.Model(str(write_arpa(m, tmp_path / "lm.arpa")))
    vocab = sorted({w for s in corpus for w in s}) + [EOS, UNK]
    histories = [[]] + [[w] for w in vocab[:-2]] + [s[:order - 1] for s in corpus[:15]]
    for hist in histories:
        state, nxt = kenlm.State(), kenlm.State()
        lm.BeginSentenceWrite(state)
        for w in hist:
            lm.BaseScore(state, w, nxt)
            state, nxt = nxt, kenlm.State()
        total = sum(10 ** lm.BaseScore(state, w, kenlm.State()) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), hist


# ---------------------------------------------------------------- asr lm build
def test_cli_build_from_text_and_manifest(tmp_path, capsys):
    txt = tmp_path / "corpus.txt"
    txt.write_text("The cat sat.\n\nthe DOG ran!\n")
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("\n".join(json.dumps({"audio": f"{i}.wav", "duration": 1.0, "text": t})
                                  for i, t in enumerate(["a cat ran", "the mat"])) + "\n")
    out = tmp_path / "lm" / "words.arpa"
    assert main(["lm", "build", str(txt), str(manifest), "--order", "2", "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    header, sec = parse_arpa(out)
    assert header == {1: len(sec[1]), 2: len(sec[2])}
    words = {ng[0] for ng in sec[1]} - {BOS, EOS, UNK}
    assert words == {"the", "cat", "sat", "dog", "ran", "a", "mat"}  # normalised, manifest text included
    assert ("a", "cat") in sec[2] and ("the", "dog") in sec[2]
    # Same model as the API builds from the same sentences.
    api = estimate(read_sentences([txt, manifest]), order=2)
    assert set(api.probs[2]) == set(sec[2])


def test_cli_build_char_lm(tmp_path):
    txt = tmp_path / "corpus.txt"
    txt.write_text("the cat\nthe dog sat\n")
    out = tmp_path / "chars.arpa"
    assert main(["lm", "build", str(txt), "--unit", "char", "--order", "3", "-o", str(out)]) == 0
    header, sec = parse_arpa(out)
    assert set(header) == {1, 2, 3}
    units = {ng[0] for ng in sec[1]} - {BOS, EOS, UNK}
    assert units == set("thecadogs") | {"|"}
    assert all(len(u) == 1 for u in units)
    assert ("e", "|", "c") in sec[3]  # "the cat" -> t h e | c a t
    assert list(char_sentences([["the", "cat"]])) == [["t", "h", "e", "|", "c", "a", "t"]]


def test_spelled_sentences():
    words = ["Cat", "cat", "o'clock", "x2", "dog", "café", "a"]
    assert list(spelled_sentences(words)) == [["c", "a", "t"], ["d", "o", "g"], ["a"]]  # distinct, lower-case, a-z only


def test_cli_build_spells_word_lists(tmp_path, capsys):
    """--spell adds each distinct word of the lists letter by letter: letter n-grams that the
    transcripts alone never contain, beside the transcripts' own word n-grams."""
    txt = tmp_path / "an4.txt"
    txt.write_text("enter six\nr o b\n")
    names = tmp_path / "names.txt"
    names.write_text("Robert\nrobert\nMelvin\n")
    plain, spelt = tmp_path / "plain.arpa", tmp_path / "spelt.arpa"
    assert main(["lm", "build", str(txt), "--order", "3", "-o", str(plain)]) == 0
    assert main(["lm", "build", str(txt), "--spell", str(names), "--order", "3", "-o", str(spelt)]) == 0
    _, p = parse_arpa(plain)
    _, s = parse_arpa(spelt)
    assert ("e", "r", "t") in s[3] and ("m", "e", "l") in s[3] and ("e", "r", "t") not in p[3]
    assert ("enter", "six") in s[2]  # the transcripts' word n-grams stay
    words = {ng[0] for ng in s[1]} - {BOS, EOS, UNK}
    assert words == {"enter", "six"} | set("robertmelvin")
    # "robert" is counted once, like the API's spelled_sentences
    api = estimate(list(read_sentences([txt])) + list(spelled_sentences(["robert", "melvin"])), order=3)
    assert set(api.probs[3]) == set(s[3])
    assert main(["lm", "build", str(txt), "--unit", "char", "--spell", str(names), "-o", str(tmp_path / "c.arpa")]) == 2
    assert "--spell" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    assert main(["lm", "build", str(missing), "-o", str(tmp_path / "x.arpa")]) == 2
    err = capsys.readouterr().err
    assert "nope.txt" in err and "not found" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["lm", "build", str(empty), "-o", str(tmp_path / "y.arpa")]) == 2
    assert "no sentences" in capsys.readouterr().err
    assert not (tmp_path / "x.arpa").exists() and not (tmp_path / "y.arpa").exists()


@pytest.mark.parametrize("order", [2, 3])
def test_flashlight_kenlm_reads_our_arpa(tmp_path, order):
    """The beam decoder loads ARPA files through flashlight-text's built-in KenLM: its scores
    (log10, word by word from <s>, then </s>) equal ours."""
    KenLM = pytest.importorskip("flashlight.lib.text.decoder.kenlm").KenLM
    fld = pytest.importorskip("flashlight.lib.text.dictionary")
    corpus = random_corpus(seed=40 + order)
    m = estimate(corpus, order=order)
    words = sorted({w for s in corpus for w in s}) + ["zebra"]
    d = fld.Dictionary()
    for w in words:
        d.add_entry(w)
    lm = KenLM(str(write_arpa(m, tmp_path / "lm.arpa")), d)
    for s in corpus[:10] + [["zebra", "the", "cat"], ["the", "the", "the"]]:
        state, total = lm.start(False), 0.0
        for w in s:
            state, sc = lm.score(state, d.get_index(w))
            total += sc
        total += lm.finish(state)[1]
        assert total == pytest.approx(our_sentence_score(m, s), abs=1e-4), s
