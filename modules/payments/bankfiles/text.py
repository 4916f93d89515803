"""Text for bank files: `latin()` turns names and remittance text into what a bank's Latin character set carries.

Banks that take ISO 20022 files (and most CSV imports) accept only the basic Latin set that SEPA made common:

    a-z A-Z 0-9 / - ? : ( ) . , ' + and space

Anything else is either rejected by the bank or silently mangled, so a payee's name would no longer match the
account holder's. `latin()` therefore converts, in this order:

1. Uzbek Latin apostrophes: the modifier letters ʻ (U+02BB, in oʻ gʻ) and ʼ (U+02BC, tutuq belgisi) and the
   typographic quotes ‘ ’ ` ´ become the ASCII apostrophe: "Gʻulomov" -> "G'ulomov", "Oʻgʻiloy" -> "O'g'iloy".
2. Cyrillic (Uzbek and Russian letters) by the official Uzbek Cyrillic-to-Latin table (1995 alphabet, as used
   in passports), see `_CYRILLIC`: Ш->Sh, Ч->Ch, Ғ->G', Ў->O', Қ->Q, Ҳ->H, Х->X, Ж->J, Ц->Ts, Щ->Sh, Ё->Yo,
   Ю->Yu, Я->Ya, Й->Y, Ъ->', Ь dropped, Ы->I, Э->E; Е is "Ye" at the start of a word and after a vowel
   (Ерғаш -> Yerg'ash, Алиев -> Aliyev) and "E" elsewhere. A two-letter result is written in capitals only
   inside an all-capitals word (ШАРИПОВ -> SHARIPOV, Шарипов -> Sharipov).
3. Other accented Latin letters lose their accents (é -> e, ö -> o).
4. Any character still outside the set becomes a space; runs of spaces collapse and the ends are trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ALLOWED = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]")

_APOSTROPHES = str.maketrans({c: "'" for c in "\u02bb\u02bc\u2018\u2019\u0060\u00b4\u2032\u02b9\u02bf"})

# Lower-case Cyrillic -> Latin; upper case is derived (see _cased). Е/е is handled separately (context).
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ғ": "g'", "д": "d", "ё": "yo", "ж": "j", "з": "z", "и": "i",
    "й": "y", "к": "k", "қ": "q", "л": "l", "м": "m", "н": "n", "о": "o", "ў": "o'", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ҳ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "'", "ь": "", "ы": "i", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
_VOWELS = set("аоуэиыеёюяўАОУЭИЫЕЁЮЯЎ")
_AFTER_WHICH_YE = _VOWELS | set("ъьЪЬ")


_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
# Only letters of the Cyrillic blocks are changed by `_letter` (no other character lower-cases into the table).
_CYRILLIC_BLOCK = re.compile("[\u0400-\u052f]")


@lru_cache(maxsize=65536)  # a payroll repeats names and the remittance text many times
def latin(text: str) -> str:
    """Return `text` in the bank's basic Latin set (see the module docstring for the rules)."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    if _CYRILLIC_BLOCK.search(text):  # the per-character pass only where it can change something
        text = "".join(_letter(text, i) for i in range(len(text)))
    if not text.isascii():  # ASCII has nothing to decompose
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NOT_ALLOWED.sub(" ", text).split())


def _letter(text: str, i: int) -> str:
    """Transliterate the character at `text[i]`, looking at its neighbours where the table needs context."""
    char = text[i]
    lower = char.lower()
    if lower == "е":
        previous = text[i - 1] if i else ""
        latin_lower = "ye" if not previous.isalpha() or previous in _AFTER_WHICH_YE else "e"
    elif lower in _CYRILLIC:
        latin_lower = _CYRILLIC[lower]
    else:
        return char
    return _cased(latin_lower, text, i) if char.isupper() else latin_lower


def _cased(latin_lower: str, text: str, i: int) -> str:
    """Capitalise a transliteration: all capitals inside an all-capitals word, else only the first letter."""
    neighbours = [c for c in (text[i - 1] if i else "", text[i + 1] if i + 1 < len(text) else "") if c.isalpha()]
    if neighbours and all(c.isupper() for c in neighbours):
        return latin_lower.upper()
    return latin_lower[:1].upper() + latin_lower[1:]
