"""Corpus transcript conventions -> plain words, before :func:`asr.text.normalize_text`.

``normalize_text`` keeps only letters, apostrophes and spaces, so a digit left in a transcript is
silently deleted ("in 1984" -> "in") and the audio no longer matches its text. Corpora that write
digits therefore go through :func:`expand_numbers` first (English number words), and TED-LIUM
through :func:`clean_tedlium`. Which corpus gets which step is listed in ``asr.data.corpora``.

    expand_numbers("In 1984 I paid $5 for the 3rd seat, 50% off")
    # -> "In nineteen eighty four I paid five dollars for the third seat, fifty percent off"
"""
from __future__ import annotations

import re

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "\u00a3": ("pound", "pounds", "penny", "pence"),
               "\u20ac": ("euro", "euros", "cent", "cents")}
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}

_AMOUNT = r"\d+(?:,\d{3})+|\d+"  # 1,000,000 or 1000000; "1,2,3" is three numbers
_MONEY = re.compile(rf"([$\u00a3\u20ac])\s?({_AMOUNT})(\.\d+)?(?:\s+(thousand|million|billion|trillion)\b)?",
                    re.IGNORECASE)
_PERCENT = re.compile(rf"({_AMOUNT})(\.\d+)?\s?%")
_NUMBER = re.compile(rf"({_AMOUNT})(\.\d+)?(?:(st|nd|rd|th|'?s)(?![a-z]))?", re.IGNORECASE)
_ABBREVIATION = re.compile(r"\b(mrs|mr|dr)\.", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r" ([,.;:!?])")  # "five dollars , and" -> "five dollars, and"


def cardinal(n: int) -> str:
    """21 -> "twenty one"; 1905 -> "one thousand nine hundred five"; -3 -> "minus three".

    Numbers of 10**15 and more are read digit by digit.
    """
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 10**15:
        return digits(str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + cardinal(n % 100))
    for size, name in _SCALES:
        if n >= size:
            rest = n % size
            return cardinal(n // size) + " " + name + ("" if rest == 0 else " " + cardinal(rest))
    raise AssertionError(n)  # unreachable: every n >= 1000 has a scale


def ordinal(n: int) -> str:
    """3 -> "third"; 21 -> "twenty first"; 100 -> "one hundredth"."""
    if n < 0:
        raise ValueError(f"ordinals are for n >= 0, got {n}")
    *head, last = cardinal(n).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(head + [last])


def year(n: int) -> str:
    """A year read in pairs: 1984 -> "nineteen eighty four", 1900 -> "nineteen hundred",
    1905 -> "nineteen oh five", 2005 -> "two thousand five", 2015 -> "twenty fifteen".

    Only 1100-2099 are read this way; other numbers come back as :func:`cardinal`.
    """
    if not 1100 <= n <= 2099 or 2000 <= n <= 2009:
        return cardinal(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return cardinal(hi) + " hundred"
    return cardinal(hi) + (" oh " if lo < 10 else " ") + cardinal(lo)


def digits(s: str) -> str:
    """"007" -> "zero zero seven"."""
    return " ".join(_ONES[int(c)] for c in s if c.isdigit())


def _plural(words: str) -> str:
    """"nineteen ninety" -> "nineteen nineties" (for decades: 1990s, 90s)."""
    *head, last = words.split()
    return " ".join(head + [last[:-1] + "ies" if last.endswith("y") else last + "s"])


def _integer(s: str, as_year: bool = True) -> str:
    """Digits (commas allowed) -> words; a lone 4-digit 1100-2099 is read as a year."""
    plain = s.replace(",", "")
    if len(plain) > 1 and plain.startswith("0"):
        return digits(plain)
    if as_year and "," not in s and len(plain) == 4:
        return year(int(plain))
    return cardinal(int(plain))


def _decimal(whole: str, frac: str) -> str:
    """("3", ".14") -> "three point one four"."""
    return cardinal(int(whole.replace(",", ""))) + " point " + digits(frac)


def _money(m: re.Match) -> str:
    one, many, cent, cents = _CURRENCIES[m.group(1)]
    whole, frac, scale = m.group(2), m.group(3), m.group(4)
    if scale:  # "$1.5 million" -> "one point five million dollars"
        amount = _decimal(whole, frac) if frac else _integer(whole, as_year=False)
        return f" {amount} {scale.lower()} {many} "
    units = int(whole.replace(",", ""))
    sub = int(round(float(frac) * 100)) if frac and len(frac) == 3 else 0  # ".50" is cents; ".5" is not
    if frac and len(frac) != 3:
        return f" {_decimal(whole, frac)} {many} "
    parts = []
    if units or not sub:
        parts.append(f"{cardinal(units)} {one if units == 1 else many}")
    if sub:
        parts.append(f"{cardinal(sub)} {cent if sub == 1 else cents}")
    return " " + " ".join(parts) + " "


def _percent(m: re.Match) -> str:
    amount = _decimal(m.group(1), m.group(2)) if m.group(2) else _integer(m.group(1), as_year=False)
    return f" {amount} percent "


def _number(m: re.Match) -> str:
    whole, frac, suffix = m.group(1), m.group(2), (m.group(3) or "").lower()
    if frac:
        words = _decimal(whole, frac)
        return f" {_plural(words) if suffix.endswith('s') else words} "
    if suffix in ("st", "nd", "rd", "th"):
        return f" {ordinal(int(whole.replace(',', '')))} "
    words = _integer(whole)
    return f" {_plural(words) if suffix.endswith('s') else words} "


def expand_numbers(text: str) -> str:
    """Write out numbers, currency, percentages, ordinals, years, decades and Mr/Mrs/Dr in English.

    "$5" -> "five dollars", "$5.50" -> "five dollars fifty cents", "$2 million" -> "two million
    dollars", "50%" -> "fifty percent", "3rd" -> "third", "1984" -> "nineteen eighty four",
    "1990s" -> "nineteen nineties", "1,000" -> "one thousand", "3.14" -> "three point one four",
    "007" -> "zero zero seven", "&" -> "and", "Dr." -> "doctor". Case and punctuation are left for
    :func:`asr.text.normalize_text`; spaces are collapsed.
    """
    text = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()], text)
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(_percent, text)
    text = _NUMBER.sub(_number, text)
    text = text.replace("&", " and ")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


# TED-LIUM: {NOISE} {BREATH} {SMACK} ..., <unk> <sil> ..., word(2) pronunciation variants.
_TEDLIUM_MARKUP = re.compile(r"\{[^}]*\}|<[^>]*>|\(\d+\)")
_SPLIT_APOSTROPHE = re.compile(r"(\w) '(?=\w)")  # "it 's" -> "it's", "we 're" -> "we're"


def clean_tedlium(text: str) -> str:
    """TED-LIUM transcript -> plain words: markup removed, split contractions joined.

    "i 've {NOISE} seen it(2) <unk> there" -> "i've seen it there". TED-LIUM already spells out
    numbers, so no number expansion is needed.
    """
    text = _TEDLIUM_MARKUP.sub(" ", text)
    text = _SPLIT_APOSTROPHE.sub(r"\1'", text)
    return " ".join(text.split())
