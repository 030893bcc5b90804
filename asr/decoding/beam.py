"""CTC beam search on flashlight-text's C++ decoder, with optional n-gram LM and hotwords.

Two modes:
- lexicon-free: any character sequence; the LM, if any, is a *character* n-gram whose "words"
  are characters and ``|`` for the space (``asr lm build --unit char``);
- lexicon: only words of a lexicon (by default the vocabulary of a *word* LM), for closed
  vocabularies such as AN4's; the LM scores whole words.
Both return the same ``Hypothesis`` as greedy decoding, with word timings from the best path.
"""
from __future__ import annotations

import bisect
import contextlib
import copy
import dataclasses
import math
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..config import DecodeConfig
from ..text import Vocabulary, normalize_text
from .greedy import collapse, words_from_alignment
from .hotwords import char_hotword_lm, parse_hotwords, word_hotword_lm
from .types import Hypothesis, Word

SPACE_TOKEN = "|"  # how a character LM spells the space
UNLIKELY = -1e4  # an emission score no hypothesis survives (finite: flashlight adds scores)


def blank_skip_mask(log_probs, blank: int, threshold: float, prev_confident: bool = False) -> tuple[np.ndarray, bool]:
    """Frames the search may skip: a frame whose blank probability is at least ``threshold`` and
    whose previous frame is one too. A run of near-certain blanks shrinks to its first frame, which
    still separates a repeated letter, so the search sees the same choices on far fewer frames (CTC
    output is mostly blank: about half of AN4's frames go). ``threshold`` <= 0 skips nothing.
    ``log_probs``: (T, vocab), a tensor or an array. Returns a boolean array and whether the last
    frame was a near-certain blank (``prev_confident`` for the next chunk of a stream)."""
    lp = log_probs.detach().cpu().numpy() if isinstance(log_probs, torch.Tensor) else np.asarray(log_probs)
    return _skip_mask(lp[:, blank], threshold, prev_confident)


def _skip_mask(blank_lp: np.ndarray, threshold: float, prev_confident: bool) -> tuple[np.ndarray, bool]:
    """``blank_skip_mask`` on the blank column alone."""
    if threshold <= 0 or blank_lp.shape[0] == 0:
        return np.zeros(blank_lp.shape[0], dtype=bool), prev_confident and threshold > 0
    confident = blank_lp >= math.log(threshold)
    skip = np.empty_like(confident)
    skip[0] = confident[0] and prev_confident
    np.logical_and(confident[1:], confident[:-1], out=skip[1:])
    return skip, bool(confident[-1])


def _flashlight():
    try:
        import flashlight.lib.text.decoder as fl
        import flashlight.lib.text.dictionary as fld
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError("beam search needs flashlight-text: pip install flashlight-text") from e
    return fl, fld


@contextlib.contextmanager
def _silent_stderr() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null for the block: KenLM's C++ loader writes a banner and
    a progress bar there on every load (its errors come back in the exception instead)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _kenlm(path: str, dictionary):
    """flashlight's built-in KenLM (ARPA or binary), loaded quietly; a clear error for a bad file."""
    from flashlight.lib.text.decoder.kenlm import KenLM

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: language model not found")
    try:
        with _silent_stderr():
            return KenLM(path, dictionary)
    except Exception as e:
        raise ValueError(f"{path}: cannot load the language model ({e})") from e


def arpa_unigrams(path: str) -> list[str]:
    """The unigram words of an ARPA file (without <s>, </s>, <unk>)."""
    words, in_uni = [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line == "\\1-grams:":
                in_uni = True
                continue
            if in_uni:
                if not line or line.startswith("\\"):
                    break
                parts = line.split()
                if len(parts) >= 2 and parts[1] not in ("<s>", "</s>", "<unk>"):
                    words.append(parts[1])
    return words


def arpa_spellings(path: str) -> dict[str, str]:
    """An ARPA file's words: our normalised text -> the LM's own spelling (e.g. "the" -> "THE")."""
    spelled: dict[str, str] = {}
    for raw in arpa_unigrams(path):
        w = normalize_text(raw)
        if w:
            spelled.setdefault(w, raw)
    return spelled


def lm_spellings(path: str, words: list[str], arpa: dict[str, str] | None = None) -> dict[str, str]:
    """Our normalised word -> the word LM's spelling of it, where they differ (an upper-case LM).

    ARPA: from its unigrams (``arpa``: ``arpa_spellings(path)`` if already read). A KenLM binary
    does not list its words: the casing (as given or upper case) under which more of ``words``
    are in the LM's vocabulary is taken for all of them."""
    if is_arpa(path):
        spelled = arpa if arpa is not None else arpa_spellings(path)
        return {w: spelled[w] for w in words if spelled.get(w, w) != w}
    fl, fld = _flashlight()
    probe = fld.Dictionary()
    for w in words:
        probe.add_entry(w)
    for w in words:
        if w.upper() != w:
            probe.add_entry(w.upper())
    probe.add_entry("<unk>")
    lm = _kenlm(path, probe)
    start = lm.start(False)
    unk = lm.score(start, probe.get_index("<unk>"))[1]

    def known(w: str) -> bool:
        return lm.score(start, probe.get_index(w))[1] != unk

    upper = [w for w in words if w.upper() != w]
    if sum(known(w.upper()) for w in upper) > sum(known(w) for w in upper):
        return {w: w.upper() for w in upper}
    return {}


def is_arpa(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip().startswith(b"\\data\\")


def lm_unit(path: str, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    if not is_arpa(path):
        raise ValueError(f"{path}: a KenLM binary does not say whether it is word- or character-level; set lm_unit")
    words = arpa_unigrams(path)
    return "char" if words and all(len(w) == 1 for w in words) else "word"


def read_lexicon(path: str) -> list[str]:
    """A word list: the first column of each line, normalised."""
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                w = normalize_text(line.split()[0])
                if w:
                    words.append(w)
    return sorted(set(words))


class BeamSearchDecoder:
    """Decode (T, vocab) log-probs into n-best ``Hypothesis`` lists."""

    def __init__(self, vocab: Vocabulary, cfg: DecodeConfig, frame_seconds: float) -> None:
        fl, fld = _flashlight()
        self.vocab, self.cfg, self.frame_seconds = vocab, cfg, frame_seconds
        if vocab.space < 0:
            raise ValueError("beam search needs a vocabulary with a space token")
        self._fl = fl
        self._free: np.ndarray | None = None
        self._is_letter = np.ones(len(vocab), dtype=bool)  # tokens that spell: not blank, not space
        self._is_letter[[vocab.blank, vocab.space]] = False
        hotwords = parse_hotwords(cfg.hotwords, cfg.hotword_boost)
        if cfg.lm and not Path(cfg.lm).is_file():
            raise FileNotFoundError(f"{cfg.lm}: language model not found")
        unit = lm_unit(cfg.lm, cfg.lm_unit) if cfg.lm else None
        self.lexicon_mode = bool(cfg.lexicon) or unit == "word"
        # Without an LM, hotword bonuses still go through the LM slot: give it weight 1.
        lm_weight = cfg.lm_weight if cfg.lm else (1.0 if hotwords else 0.0)
        if hotwords and lm_weight <= 0:
            raise ValueError(f"hotwords need lm_weight > 0, got {cfg.lm_weight}")

        if self.lexicon_mode:
            arpa = arpa_spellings(cfg.lm) if cfg.lm and is_arpa(cfg.lm) else {}  # the unigrams, read once
            words = read_lexicon(cfg.lexicon) if cfg.lexicon else list(arpa)
            words = sorted(set(words) | {w for phrase in hotwords for w in phrase.split()})
            if not words:
                raise ValueError("lexicon decoding needs words: give a lexicon file or a word-level ARPA LM")
            # The dictionary holds the LM's own spelling of each word (LibriSpeech's LMs are upper
            # case), so that KenLM finds it; hypotheses carry our normalised text.
            spelling = lm_spellings(cfg.lm, words, arpa) if cfg.lm else {}
            self.word_dict = fld.Dictionary()
            for w in words:
                self.word_dict.add_entry(spelling.get(w, w))
            self.word_dict.add_entry("<unk>")
            self.word_dict.set_default_index(self.word_dict.get_index("<unk>"))
            self._word_text = words + ["<unk>"]  # by word id
            index = {w: i for i, w in enumerate(self._word_text)}
            self._word_ids = {w: vocab.encode(w) for w in self._word_text}
            lm = _kenlm(cfg.lm, self.word_dict) if cfg.lm else fl.ZeroLM()
            if hotwords:
                boosts = {index[w]: b for p, b in hotwords.items() for w in p.split()}
                lm = word_hotword_lm(lm, boosts, lm_weight)
            trie = fl.Trie(len(vocab), vocab.space)
            start = lm.start(False)
            for w in words:
                _, score = lm.score(start, index[w])
                # Every word is spelled with a trailing space ("cat|", the wav2letter convention), as
                # our models write a space after every word, spelled letters included. So words
                # cannot run together without one: otherwise "thre" could be read as the four
                # lexicon words "t h r e". The last word gets its space from the free frame that
                # decode() appends; a held last letter stays inside the word until its space.
                trie.insert(vocab.encode(w) + [vocab.space], index[w], score)
            trie.smear(fl.SmearingMode.MAX)
            self._lm, self._trie = lm, trie  # keep alive: the decoder holds raw pointers
            self._unk = index["<unk>"]
        else:
            # Token dictionary for a character LM: our ids, with the space spelled "|".
            self.token_dict = fld.Dictionary()
            if cfg.lm and not hasattr(vocab, "chars"):
                raise ValueError(f"{cfg.lm}: a character LM needs a character model; with a SentencePiece model "
                                 "use a word LM (lexicon decoding)")
            for i in range(len(vocab)):
                c = vocab.token(i)
                self.token_dict.add_entry(SPACE_TOKEN if c == " " else c)
            lm = _kenlm(cfg.lm, self.token_dict) if cfg.lm else fl.ZeroLM()
            if hotwords:
                lm = char_hotword_lm(lm, hotwords, vocab, lm_weight)
            self._lm = lm
        self.decoder = self._search(lm_weight)

    def _search(self, lm_weight: float):
        """flashlight's search over this decoder's LM (and lexicon trie) with ``self.cfg``'s settings."""
        fl, cfg, vocab = self._fl, self.cfg, self.vocab
        common = dict(beam_size=cfg.beam_size, beam_size_token=cfg.beam_size_token or len(vocab), beam_threshold=cfg.beam_threshold,
                      lm_weight=lm_weight, log_add=False, criterion_type=fl.CriterionType.CTC)
        if self.lexicon_mode:
            opts = fl.LexiconDecoderOptions(**common, word_score=cfg.word_score, unk_score=cfg.unk_score, sil_score=cfg.sil_score)
            return fl.LexiconDecoder(opts, self._trie, self._lm, vocab.space, vocab.blank, self._unk, [], False)
        opts = fl.LexiconFreeDecoderOptions(**common, sil_score=cfg.sil_score + cfg.word_score)
        return fl.LexiconFreeDecoder(opts, self._lm, vocab.space, vocab.blank, [])

    def with_weights(self, lm_weight: float, word_score: float) -> "BeamSearchDecoder":
        """The same decoder with another LM weight and word score, sharing this one's LM and lexicon
        trie (which do not depend on them): a grid over the two loads the LM once. With hotwords,
        whose bonuses scale with the weight, it is built afresh."""
        cfg = dataclasses.replace(self.cfg, lm_weight=lm_weight, word_score=word_score)
        if cfg.hotwords:
            return BeamSearchDecoder(self.vocab, cfg, self.frame_seconds)
        new = copy.copy(self)
        new.cfg = cfg
        new.decoder = new._search(lm_weight if cfg.lm else 0.0)
        return new

    def decode(self, log_probs: torch.Tensor, offset: float = 0.0) -> list[Hypothesis]:
        """log_probs: (T, vocab) for one utterance -> up to ``nbest`` hypotheses, best first."""
        if log_probs.dim() != 2 or log_probs.shape[1] != len(self.vocab):
            raise ValueError(f"expected log_probs of shape (time, {len(self.vocab)}), got {tuple(log_probs.shape)}")
        lp = log_probs.detach().cpu().numpy()
        if lp.dtype != np.float32 or not lp.flags.c_contiguous:
            lp = np.ascontiguousarray(lp, dtype=np.float32)
        if hasattr(self._lm, "reset"):
            self._lm.reset()
        T, lex = lp.shape[0], int(self.lexicon_mode)
        blank_lp = lp[:, self.vocab.blank]
        skip, _ = _skip_mask(blank_lp, self.cfg.blank_skip, False)
        kept = (~skip).nonzero()[0]
        n = len(kept)
        # The frames the search sees, plus (lexicon mode) the free frame at index T.
        em = np.empty((n + lex, lp.shape[1]), dtype=np.float32)
        np.take(lp, kept, axis=0, out=em[:n])
        if lex:
            em[n] = self.free_frame()[0]
            kept = np.append(kept, T)
        self.drop_unlikely(em[:n])
        results = self.decoder.decode(em.ctypes.data, em.shape[0], em.shape[1])
        skipped_score = float(blank_lp.sum(where=skip, dtype=np.float64)) if n < T else 0.0  # the same for every hypothesis
        hyps, seen = [], set()
        for r in results:
            hyp = self.hypothesis_from(r, lp, offset, kept, skipped_score)
            if hyp.text in seen:  # different alignments of the same text
                continue
            seen.add(hyp.text)
            hyps.append(hyp)
            if len(hyps) == self.cfg.nbest:
                break
        return hyps or [Hypothesis("", [], float("-inf"), [])]

    def drop_unlikely(self, em: np.ndarray) -> None:
        """In place: tokens below ``token_min_logp`` in a frame, other than its best, get a score
        no hypothesis survives, so the search does not try them."""
        floor = self.cfg.token_min_logp
        if floor == -math.inf or em.shape[0] == 0:
            return
        low = em < floor
        every = low.all(axis=1)  # frames whose best is below the floor too (rare: it is >= log(1/vocab)
        if every.any():          # for normalised log-probs): those keep their best
            rows = every.nonzero()[0]
            low[rows] = em[rows] < em[rows].max(axis=1, keepdims=True)
        np.putmask(em, low, UNLIKELY)

    def free_frame(self) -> np.ndarray:
        """Lexicon mode: a frame of free space or blank appended after the end, so that a word whose
        last letter is held to the end finishes there (as "cat|") instead of paying for held frames."""
        if self._free is None:
            self._free = np.full((1, len(self.vocab)), UNLIKELY, dtype=np.float32)
            self._free[0, [self.vocab.space, self.vocab.blank]] = 0.0
        return self._free

    def frame_path(self, r, kept, T: int) -> np.ndarray:
        """The best path over all T frames: the search's tokens on the frames it saw (``kept``,
        after the leading padding), blank on the skipped ones."""
        kept = np.asarray(kept, dtype=np.int64)
        tokens = np.asarray(r.tokens[1 : len(kept) + 1], dtype=np.int64)
        n = len(tokens)
        inside = kept[:n] < T
        path = np.full(T, self.vocab.blank, dtype=np.int64)
        path[kept[:n][inside]] = tokens[inside]
        return path

    def hypothesis_from(self, r, lp: np.ndarray, offset: float, kept, skipped_score: float = 0.0) -> Hypothesis:
        """A flashlight result -> ``Hypothesis``. ``lp``: (T, vocab) log-probs of all frames;
        ``kept``: the frames the search saw, in order (T for the free frame)."""
        T = lp.shape[0]
        kept = np.asarray(kept, dtype=np.int64)
        if self.lexicon_mode:
            # Letters only sit on frames the search saw (skipped frames are blank), never on the
            # free frame (kept's last entry, T, once the search has finished).
            m = len(kept)
            path = np.array(r.tokens[1 : m + 1], dtype=np.int64)  # on the frames seen
            labels = np.array(r.words[1 : m + 1], dtype=np.int64)
            seen = kept[: len(path)]
            letter = self._is_letter[path]
            if len(seen) and seen[-1] >= T:
                letter[-1] = False
            at = (labels >= 0).nonzero()[0]
            words = self._lexicon_words(seen[letter], path[letter], lp, kept[at].tolist(), labels[at].tolist(), offset)
            tokens = self._spelling(words)
        else:
            path = self.frame_path(r, kept, T)
            conf = torch.from_numpy(lp[np.arange(T), path]).exp().tolist()  # torch's exp, as greedy decoding's
            words = words_from_alignment(collapse(path.tolist(), self.vocab.blank), conf, self.vocab, self.frame_seconds, offset)
            tokens = self.vocab.encode(" ".join(w.text for w in words))
        return Hypothesis(" ".join(w.text for w in words), tokens, float(r.score) + skipped_score, words)

    def _spelling(self, words: list[Word]) -> list[int]:
        """Lexicon mode: the tokens of the words' text, from each word's cached spelling."""
        ids: list[int] = []
        for k, w in enumerate(words):
            if k:
                ids.append(self.vocab.space)
            ids += self._word_ids[w.text]
        return ids

    def _lexicon_words(self, letters: np.ndarray, tokens: np.ndarray, lp: np.ndarray, end_frames: list[int],
                       word_ids: list[int], offset: float) -> list[Word]:
        """Words from the decoder's word labels: word ``word_ids[k]`` was completed at frame
        ``end_frames[k]`` (the free frame after the end counts as the last frame). ``letters``: the
        best path's letter frames, in order, and ``tokens`` their letters.

        The text must come from the labels, not from collapsing the path: flashlight's lexicon
        search may spell a double letter ("three") with no blank between the two e's. A word spans
        from its first letter after the previous word to the end of its (possibly held) last letter;
        its confidence is the mean probability of the path over its letter frames.
        """
        fs, last = self.frame_seconds, lp.shape[0] - 1
        conf = np.exp(lp[letters, tokens]).tolist()
        # held[k]: letter k + 1 holds letter k (the next frame, the same token)
        held = ((letters[1:] == letters[:-1] + 1) & (tokens[1:] == tokens[:-1])).tolist()
        letters = letters.tolist()
        n = len(letters)
        words: list[Word] = []
        i = 0  # first letter after the previous word
        for t_end, wid in zip(end_frames, word_ids):
            t_end = min(t_end, last)  # the free frame counts as the last
            j = bisect.bisect_right(letters, t_end, lo=i)  # letters up to the completing frame
            if i < j:
                while j < n and held[j - 1]:  # held last letter
                    j += 1
                start, end = letters[i], letters[j - 1]
                c = sum(conf[i:j]) / (j - i)
            else:  # no letter of its own (cannot happen with a CTC lexicon, but stay total)
                start = end = t_end
                c = math.exp(float(lp[t_end].max()))
            words.append(Word(self._word_text[wid], offset + start * fs, offset + (end + 1) * fs, float(min(1.0, max(0.0, c)))))
            i = j
        return words
