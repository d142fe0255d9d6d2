"""Builders for engine messages and scripted parse results."""

from __future__ import annotations

import html
import re

from bot.dialogue.messages import Button, Inbound, InboundKind, Reply
from nlu.parser import Crisis, IntentScore, ParseResult, ParserUnavailable

USER = "a" * 64
OTHER_USER = "b" * 64
TAG = re.compile(r"<[^>]+>")


def text(value: str, user: str = USER, channel: str = "telegram") -> Inbound:
    return Inbound(user, channel, InboundKind.TEXT, text=value)


def command(name: str, user: str = USER) -> Inbound:
    return Inbound(user, "telegram", InboundKind.COMMAND, command=name)


def button(payload: str, user: str = USER) -> Inbound:
    return Inbound(user, "telegram", InboundKind.BUTTON, payload=payload)


def media(user: str = USER) -> Inbound:
    return Inbound(user, "telegram", InboundKind.MEDIA)


def buttons(reply: Reply) -> list[Button]:
    return [b for row in reply.buttons for b in row]


def payloads(reply: Reply) -> list[str]:
    return [b.payload for b in buttons(reply)]


def labels(reply: Reply) -> list[str]:
    return [b.label for b in buttons(reply)]


def result(
    intent: str,
    confidence: float,
    *ranking: tuple[str, float],
    language: str = "en",
    text_value: str = "x",
) -> ParseResult:
    scores = (IntentScore(intent, confidence), *(IntentScore(n, c) for n, c in ranking))
    return ParseResult(text_value, scores[0], scores, (), language, Crisis())


class ScriptedParser:
    """Returns a fixed result, or raises ParserUnavailable when given None."""

    def __init__(self, parse_result: ParseResult | None) -> None:
        self.result = parse_result
        self.seen: list[str] = []

    async def parse(self, value: str) -> ParseResult:
        self.seen.append(value)
        if self.result is None:
            raise ParserUnavailable("down")
        return self.result


def location(lat: float, lon: float, user: str = USER) -> Inbound:
    return Inbound(user, "telegram", InboundKind.LOCATION, latitude=lat, longitude=lon)


def plain(reply: Reply) -> str:
    """A reply's text as read: tags dropped, entities decoded."""
    return html.unescape(TAG.sub("", reply.text))
