"""Pseudonymous user ids (a keyed hash, so a stored id cannot be turned back into a Telegram id)
and the scrubbing of questions kept without anyone's id."""

from __future__ import annotations

import hashlib
import hmac
import re


def pseudonymise(secret: str, channel: str, channel_user_id: str | int) -> str:
    """Return the HMAC-SHA256 of `channel:id` keyed with HEALTHBOT_SECRET, as 64 hex characters."""
    message = f"{channel}:{channel_user_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


_LINK = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_NUMBER = re.compile(r"\+?\d[\d\s().-]{2,}\d|\d{3,}")
SCRUBBED_LIMIT = 300


def scrub(text: str) -> str:
    """A question with links, e-mail addresses, @handles and numbers (phones, ids) removed.

    Kept for editors, unlinked from anyone, to see what the bot could not answer.
    """
    text = _LINK.sub("[link]", text)
    text = _HANDLE.sub("[handle]", text)
    text = _NUMBER.sub("[number]", text)
    return " ".join(text.split())[:SCRUBBED_LIMIT]
