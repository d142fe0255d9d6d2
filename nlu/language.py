"""Tell Kiswahili (and Sheng) from English with word lists; cheap, explainable and editable."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

LEXICON = Path(__file__).parent / "lexicon"
_WORD = re.compile(r"[a-z0-9']+")


@cache
def _words(language: str) -> frozenset[str]:
    text = (LEXICON / f"{language}.txt").read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(word for line in lines for word in line.split())


def detect_language(text: str, default: str = "en") -> str:
    """Return `sw` or `en` for a message; `default` when the words give no evidence either way."""
    sw, en = _words("sw"), _words("en")
    sw_score = en_score = 0.0
    for token in _WORD.findall(text.lower()):
        in_sw, in_en = token in sw, token in en
        if in_sw and not in_en:
            sw_score += 1
        elif in_en and not in_sw:
            en_score += 1
        elif not in_sw and not in_en and len(token) > 3 and _looks_swahili(token):
            sw_score += 0.5
    if sw_score == en_score:
        return default
    return "sw" if sw_score > en_score else "en"


_SW_PREFIX = re.compile(r"^(ni|u|a|tu|m|wa|ku|si|ha|hu)(na|li|me|ta|ki|nge|ja)[a-z]{2,}")
_SW_ENDINGS = ("isha", "esha", "iwa", "ewa", "ana", "ika", "eka", "ishwa", "ini")


def _looks_swahili(token: str) -> bool:
    """Kiswahili verbs carry subject+tense prefixes (ni-na-, u-li-, a-me-...); a weak signal."""
    return bool(_SW_PREFIX.match(token)) or (token.endswith(_SW_ENDINGS) and token[-1] == "a")
