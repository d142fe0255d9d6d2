"""Split long messages under a channel's length limit, at paragraph, line or word boundaries."""

from __future__ import annotations

import re

TELEGRAM_LIMIT = 4096
# What a cut must not fall inside: a tag, or an entity (`&amp;`, `&#39;`, `&#x1F600;`).
_MARKUP = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (a lone surrogate is one)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Return chunks of at most `limit` UTF-16 units, breaking at the largest boundary that fits.

    No cut falls inside a tag or an entity. Content templates keep markup inside one line, so
    breaking between lines never leaves a tag open in one chunk and closed in the next.
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
    end = _fitting_prefix(text, limit)
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, 0, end)
        if at > end // 2:
            return _outside_markup(text, at + len(separator))
    return _outside_markup(text, end)


def _fitting_prefix(text: str, limit: int) -> int:
    """The length of the longest prefix of `text` within `limit` UTF-16 units."""
    units = 0
    for at, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit:
            return at
    return len(text)


def _outside_markup(text: str, cut: int) -> int:
    """`cut`, moved back to the start of a tag or entity it falls inside (never back to 0)."""
    while True:
        starts = (text.rfind("<", 0, cut), text.rfind("&", 0, cut))
        inside = [
            start
            for start in starts
            if start > 0
            and (markup := _MARKUP.match(text, start)) is not None
            and markup.end() > cut
        ]
        if not inside:
            return cut
        cut = min(inside)
