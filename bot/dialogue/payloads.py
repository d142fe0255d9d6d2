"""Button payloads: short, versionless strings that are parsed defensively (they can be forged)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 64
MAX_DIGITS = 9  # below 2**31: fits every integer column, so a forged id is just "no such row"


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed button payload: an action and its argument."""

    action: str
    arg: str = ""
    extra: str = ""


ACTIONS = frozenset(
    {"menu", "lang", "topic", "ask", "more", "fb", "svc", "near", "rate", "erase", "chk", "safe"}
)


def encode(action: str, arg: str = "", extra: str = "") -> str:
    """`ask:hiv_testing`, `fb:42:1`, `menu`."""
    value = ":".join(part for part in (action, arg, extra) if part)
    if len(value.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError("button payload too long")
    return value


def decode(raw: str) -> Payload | None:
    """Parse a payload; None for anything malformed or unknown (stale or forged buttons)."""
    if not raw or len(raw.encode()) > MAX_PAYLOAD_BYTES:
        return None
    parts = raw.split(":")
    if parts[0] not in ACTIONS or len(parts) > 3:
        return None
    return Payload(parts[0], *parts[1:])


def small_int(text: str) -> int | None:
    """A non-negative number a user sent (an id, an offset); None unless 1-9 ASCII digits.

    `str.isdigit()` also accepts "²" and "２", and `int()` accepts signs, spaces and "_": a
    forged button or command is only ever a number it could be, or nothing.
    """
    if not 1 <= len(text) <= MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
