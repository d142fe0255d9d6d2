"""Pseudonymous user ids: a keyed hash, so a stored id cannot be turned back into a Telegram id."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(secret: str, channel: str, channel_user_id: str | int) -> str:
    """Return the HMAC-SHA256 of `channel:id` keyed with HEALTHBOT_SECRET, as 64 hex characters."""
    message = f"{channel}:{channel_user_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
