"""Split long messages under a channel's length limit, at paragraph, line or word boundaries."""

from __future__ import annotations

TELEGRAM_LIMIT = 4096


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Return chunks of at most `limit` UTF-16 units, breaking at the largest boundary that fits.

    Content templates keep markup inside one line, so breaking between lines never splits a tag.
    """
    if utf16_length(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        cut = _cut_point(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return [c for c in chunks if c]


def _cut_point(text: str, limit: int) -> int:
    # the longest prefix within the limit, measured in UTF-16 units
    end = min(len(text), limit)
    while utf16_length(text[:end]) > limit:
        end -= 1
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, 0, end)
        if at > end // 2:
            return at + len(separator)
    return end
