"""Interpolated modified Kneser-Ney n-gram estimation, written as an ARPA file.

KenLM's ``lmplz`` is not on PyPI and no maintained PyPI package estimates and writes ARPA, so
this is a small, exact implementation of the same model (Chen & Goodman 1998; the variant
``lmplz`` builds):

- the highest order uses raw counts; lower orders use continuation counts N1+(. w), except
  n-grams that start with <s>, which keep raw counts (nothing can precede them);
- three discounts per order from the count-of-counts: D1, D2, D3+;
- p(w|h) = (c(hw) - D(c(hw))) / c(h.) + gamma(h) * p(w|h'), gamma(h) = sum of the discounts
  taken in context h / c(h.); unigrams interpolate with the uniform distribution over the
  vocabulary plus <unk>;
- in ARPA form each stored n-gram carries its interpolated log10 probability and, as a
  context, its backoff weight log10 gamma(h), so a backoff query reproduces the interpolation.

Everything is held in memory: fine for transcripts and book-sized text (millions of words).
"""
from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

from ..text import normalize_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
DEFAULT_DISCOUNTS = (0.5, 1.0, 1.5)


@dataclass
class NGramModel:
    order: int
    # probs[n][ngram] = log10 p, backoffs[n][ngram] = log10 gamma (n = 1..order, ngram tuples)
    probs: list[dict] = field(default_factory=list)
    backoffs: list[dict] = field(default_factory=list)
    discounts: list[tuple[float, float, float]] = field(default_factory=list)

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context) by backing off, as an ARPA reader computes it."""
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        penalty = 0.0
        while True:
            ng = context + (word,)
            p = self.probs[len(ng)].get(ng)
            if p is not None:
                return p + penalty
            if not context:
                return self.probs[1][(UNK,)] + penalty
            penalty += self.backoffs[len(context)].get(context, 0.0)
            context = context[1:]


def read_sentences(paths: Iterable[Union[str, os.PathLike]], normalize: bool = True) -> Iterator[list[str]]:
    """One sentence per line from text files; a JSONL manifest contributes its ``text`` fields."""
    import json

    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: text file not found")
        with open(p, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if p.suffix == ".jsonl":
                    line = json.loads(line).get("text", "")
                words = (normalize_text(line) if normalize else line).split()
                if words:
                    yield words


def char_sentences(sentences: Iterable[Sequence[str]], space: str = "|") -> Iterator[list[str]]:
    """Word sentences -> character sentences for a character LM ("a cat" -> a | c a t)."""
    for words in sentences:
        yield list(space.join(words))


def spelled_sentences(words: Iterable[str]) -> Iterator[list[str]]:
    """Each distinct alphabetic word once, as a sentence of its letters ("cat" -> c a t).

    Added to a word LM's text, they teach it spelling: a recognizer of spelled names and codes
    (AN4's "p a t t e r s o n") whose lexicon is the 26 letters gets an orthographic letter n-gram
    beside the transcripts' word n-grams."""
    seen: set[str] = set()
    for w in words:
        w = w.lower()
        if w.isascii() and w.isalpha() and w not in seen:
            seen.add(w)
            yield list(w)


def _discounts(count_of_counts: Counter) -> tuple[float, float, float]:
    t1, t2, t3, t4 = (count_of_counts.get(i, 0) for i in (1, 2, 3, 4))
    if min(t1, t2, t3, t4) == 0:  # too little data for the estimate (lmplz refuses); fixed values
        return DEFAULT_DISCOUNTS
    y = t1 / (t1 + 2 * t2)
    d = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    if not all(0 < d[i] < i + 1 for i in range(3)):
        return DEFAULT_DISCOUNTS
    return d


def estimate(sentences: Iterable[Sequence[str]], order: int = 3) -> NGramModel:
    """Estimate an interpolated modified Kneser-Ney model from tokenised sentences."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    vocab: set[str] = set()
    n_sent = 0
    for words in sentences:
        n_sent += 1
        vocab.update(words)
        toks = [BOS] + list(words) + [EOS]
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                ng = tuple(toks[i : i + n])
                if ng != (BOS,):
                    raw[n][ng] += 1
    if n_sent == 0:
        raise ValueError("no sentences to estimate a language model from")

    # Adjusted counts: continuation counts below the top order, except n-grams starting with <s>.
    adj: list[Counter] = [Counter() for _ in range(order + 1)]
    adj[order] = Counter(raw[order])
    for n in range(order - 1, 0, -1):
        for ng in raw[n + 1]:
            adj[n][ng[1:]] += 1
        for ng, c in raw[n].items():
            if ng[0] == BOS:
                adj[n][ng] = c
    adj[1].pop((BOS,), None)

    model = NGramModel(order=order, probs=[{} for _ in range(order + 1)], backoffs=[{} for _ in range(order + 1)],
                       discounts=[(0.0, 0.0, 0.0)])
    for n in range(1, order + 1):
        model.discounts.append(_discounts(Counter(adj[n].values())))

    # Per-context totals and the number of extensions seen once, twice, three or more times.
    interp: list[dict] = [{} for _ in range(order + 1)]  # un-logged interpolated probabilities
    gammas: list[dict] = [{} for _ in range(order + 1)]
    for n in range(1, order + 1):
        d1, d2, d3 = model.discounts[n]
        totals: dict = defaultdict(float)
        ext: dict = defaultdict(lambda: [0, 0, 0])
        for ng, c in adj[n].items():
            h = ng[:-1]
            totals[h] += c
            ext[h][min(c, 3) - 1] += 1
        for h, total in totals.items():
            e = ext[h]
            gammas[n - 1][h] = (d1 * e[0] + d2 * e[1] + d3 * e[2]) / total
        for ng, c in adj[n].items():
            h = ng[:-1]
            disc = (d1, d2, d3)[min(c, 3) - 1]
            lower = interp[n - 1][ng[1:]] if n > 1 else 1.0 / (len(vocab) + 2)  # + </s>, <unk>
            interp[n][ng] = (c - disc) / totals[h] + gammas[n - 1][h] * lower
    # <unk> gets only the uniform share; <s> is never predicted (ARPA convention: -99).
    interp[1][(UNK,)] = gammas[0][()] / (len(vocab) + 2)

    for n in range(1, order + 1):
        model.probs[n] = {ng: math.log10(p) for ng, p in interp[n].items()}
    model.probs[1][(BOS,)] = -99.0
    for n in range(1, order):
        for ng in model.probs[n]:
            g = gammas[n].get(ng)
            model.backoffs[n][ng] = math.log10(g) if g and g > 0 else 0.0
    return model


def write_arpa(model: NGramModel, path: Union[str, os.PathLike]) -> Path:
    """Write the model as an ARPA text file (atomically)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for n in range(1, model.order + 1):
            f.write(f"ngram {n}={len(model.probs[n])}\n")
        for n in range(1, model.order + 1):
            f.write(f"\n\\{n}-grams:\n")
            for ng in sorted(model.probs[n]):
                line = f"{model.probs[n][ng]:.7f}\t{' '.join(ng)}"
                if n < model.order:
                    line += f"\t{model.backoffs[n].get(ng, 0.0):.7f}"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    os.replace(tmp, p)
    return p
