"""Text normalisation shared by training and parsing."""

from __future__ import annotations

import re
import unicodedata

_REPEATS = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, lower case, long letter runs shortened ("pleeeease" → "pleease"), spaces folded."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _REPEATS.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()
