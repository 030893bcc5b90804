"""Hotword biasing as a language-model wrapper for flashlight-text's decoders.

Lexicon decoding: a hotword's words get a bonus each time the LM scores them.
Lexicon-free decoding: a phrase's bonus is spread over its characters while a hypothesis spells
it from a word start; a partial match that breaks off gives its bonus back (so biasing never
rewards fragments), and a completed phrase keeps it. Bonuses are in natural-log units, added to
the hypothesis score independent of ``lm_weight``.
"""
from __future__ import annotations

from typing import Iterable

from ..text import Vocabulary, normalize_text


def parse_hotwords(items: Iterable[str], default_boost: float) -> dict[str, float]:
    """["word", "new york:6.5"] -> {"word": default, "new york": 6.5} (normalised text)."""
    out: dict[str, float] = {}
    for item in items:
        text, sep, boost = str(item).rpartition(":")
        if not sep:
            text, boost = str(item), ""
        try:
            value = float(boost) if boost else default_boost
        except ValueError as e:
            raise ValueError(f"hotword {item!r}: boost must be a number (WORD[:BOOST])") from e
        phrase = normalize_text(text)
        if not phrase:
            raise ValueError(f"hotword {item!r} has no letters")
        out[phrase] = value
    return out


def read_hotwords_file(path: str) -> list[str]:
    """One hotword per line, optionally ``phrase:boost`` or ``phrase<TAB>boost``; # comments."""
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                items.append(line.replace("\t", ":"))
    return items


def _base():
    import flashlight.lib.text.decoder as fl

    return fl


def word_hotword_lm(inner, boosts: dict[int, float], lm_weight: float):
    """Wrap a word LM: ``boosts`` maps word-dictionary indices to bonuses."""
    fl = _base()

    class WordHotwordLM(fl.LM):
        def __init__(self) -> None:
            fl.LM.__init__(self)
            self.inner, self.scale = inner, 1.0 / lm_weight
            self.states: dict = {}

        def reset(self) -> None:
            self.states.clear()

        def start(self, start_with_nothing: bool):
            inner_state = self.inner.start(start_with_nothing)
            state = fl.LMState()
            self.states[state] = inner_state
            return state

        def score(self, state, token: int):
            inner_next, s = self.inner.score(self.states[state], token)
            out = state.child(token)
            self.states.setdefault(out, inner_next)
            return out, s + boosts.get(token, 0.0) * self.scale

        def finish(self, state):
            inner_next, s = self.inner.finish(self.states[state])
            out = state.child(-1)
            self.states.setdefault(out, inner_next)
            return out, s

    return WordHotwordLM()


def char_hotword_lm(inner, phrases: dict[str, float], vocab: Vocabulary, lm_weight: float):
    """Wrap a token-level LM (or ZeroLM) with a character trie of hotword phrases."""
    fl = _base()
    # Trie over token ids: children[node][token] -> node; bonus per step; terminal nodes.
    children: list[dict[int, int]] = [{}]
    step_bonus: list[float] = [0.0]
    terminal: set[int] = set()
    for phrase, boost in phrases.items():
        ids = vocab.encode(phrase)
        node = 0
        for k in ids:
            nxt = children[node].get(k)
            if nxt is None:
                nxt = len(children)
                children[node][k] = nxt
                children.append({})
                step_bonus.append(0.0)
            step_bonus[nxt] = max(step_bonus[nxt], boost / len(ids))
            node = nxt
        terminal.add(node)
    space = vocab.space

    def advance(node: int, pending: float, word_start: bool, token: int) -> tuple[float, int, float]:
        """-> (bonus now, next node, next pending). ``pending`` is what the current partial match
        has earned so far and must give back if it breaks off. A phrase only counts as a whole
        word: complete, then followed by a space or the end of the utterance."""
        refund = 0.0
        if node:
            won = node in terminal and token == space
            nxt = children[node].get(token)
            if nxt is not None:  # a longer phrase goes on ("new" -> "new york"); a won one keeps its bonus
                return step_bonus[nxt], nxt, (0.0 if won else pending) + step_bonus[nxt]
            if won:
                return 0.0, 0, 0.0  # won: keep what it earned
            refund = -pending  # broke off: give it back (and this token may start another phrase)
        if word_start and token in children[0]:
            nxt = children[0][token]
            return refund + step_bonus[nxt], nxt, step_bonus[nxt]
        return refund, 0, 0.0

    class CharHotwordLM(fl.LM):
        def __init__(self) -> None:
            fl.LM.__init__(self)
            self.inner, self.scale = inner, 1.0 / lm_weight
            self.states: dict = {}  # state -> (inner state, trie node, pending bonus, at a word start)

        def reset(self) -> None:
            self.states.clear()

        def start(self, start_with_nothing: bool):
            state = fl.LMState()
            self.states[state] = (self.inner.start(start_with_nothing), 0, 0.0, True)
            return state

        def score(self, state, token: int):
            inner_state, node, pending, word_start = self.states[state]
            inner_next, s = self.inner.score(inner_state, token)
            bonus, node, pending = advance(node, pending, word_start, token)
            out = state.child(token)
            self.states.setdefault(out, (inner_next, node, pending, token == space))
            return out, s + bonus * self.scale

        def finish(self, state):
            inner_state, node, pending, _ = self.states[state]
            inner_next, s = self.inner.finish(inner_state)
            out = state.child(-1)
            self.states.setdefault(out, (inner_next, 0, 0.0, True))
            refund = 0.0 if node in terminal else -pending
            return out, s + refund * self.scale

    return CharHotwordLM()
