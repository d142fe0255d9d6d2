"""Telegram HTML made safe for a web page: an allow-list rebuilt from parsed markup.

The engine's replies come from escaped templates already; this is defence in depth before the
web chat puts them in the page with `innerHTML`. Everything is parsed and rebuilt: text is escaped
again, only Telegram's formatting tags survive (without attributes), and a link keeps only an
`http:`, `https:` or `tel:` href and opens in a new tab without a referrer. Anything else (scripts,
event handlers, styles, unknown tags) is dropped, keeping only its escaped text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "blockquote", "a"})
ALIASES = {"strong": "b", "em": "i", "ins": "u", "strike": "s", "del": "s"}
SCHEMES = ("http:", "https:", "tel:")
DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "noscript"})
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")
_TAG = re.compile(r"(<[^>]*>)")


def sanitise(text: str) -> str:
    """Telegram HTML reduced to the allowed tags, every other character escaped."""
    cleaner = _Cleaner()
    cleaner.feed(text)
    cleaner.close()
    return cleaner.result()


def tel_links(markup: str, numbers: Iterable[str]) -> str:
    """Sanitised markup with the given phone numbers made tap-to-call, outside existing links.

    A number counts only on its own: not inside a longer number, a decimal (`112.0 km`) or a date.
    """
    wanted = sorted({n for n in numbers if n.isdigit()}, key=len, reverse=True)
    if not wanted:
        return markup
    pattern = re.compile(r"(?<![\d.,])(" + "|".join(wanted) + r")(?![.,]?\d)")
    parts = _TAG.split(markup)
    in_link = False
    for index, part in enumerate(parts):
        if index % 2:  # a tag
            in_link = part.startswith("<a ") or (in_link and part != "</a>")
        elif not in_link:
            parts[index] = pattern.sub(r'<a href="tel:\1">\1</a>', part)
    return "".join(parts)


def safe_href(value: str | None) -> str | None:
    """The link if its scheme is http, https or tel (ignoring hidden characters); else None."""
    if not value:
        return None
    compact = _INVISIBLE.sub("", value).lower()
    return value.strip() if compact.startswith(SCHEMES) else None


class _Cleaner(HTMLParser):
    """Rebuilds the allowed markup; unbalanced or stray tags are closed or ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._open: list[str] = []
        self._hidden = 0  # inside a script, style...: its text is dropped too

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep an allowed tag (a link only with a safe href)."""
        if tag in DROP_CONTENT:
            self._hidden += 1
            return
        name = ALIASES.get(tag, tag)
        if name not in TAGS:
            return
        if name == "a":
            href = safe_href(dict(attrs).get("href"))
            if href is None:
                return
            link = html.escape(href, quote=True)
            self._out.append(f'<a href="{link}" rel="noopener noreferrer" target="_blank">')
        else:
            self._out.append(f"<{name}>")
        self._open.append(name)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """`<br/>`, `<img .../>` and the like: nothing to keep."""

    def handle_endtag(self, tag: str) -> None:
        """Close an open allowed tag (and any left open inside it)."""
        if tag in DROP_CONTENT:
            self._hidden = max(0, self._hidden - 1)
            return
        name = ALIASES.get(tag, tag)
        if name not in self._open:
            return
        while self._open:
            closing = self._open.pop()
            self._out.append(f"</{closing}>")
            if closing == name:
                break

    def handle_data(self, data: str) -> None:
        """Text, escaped again."""
        if not self._hidden:
            self._out.append(html.escape(data, quote=False))

    def result(self) -> str:
        """The rebuilt markup with every tag closed."""
        return "".join(self._out) + "".join(f"</{name}>" for name in reversed(self._open))
