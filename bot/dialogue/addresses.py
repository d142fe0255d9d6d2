"""Channel addresses: where the bot can write to a chat (`telegram:<chat id>`, `web:<token>`).

One format for the adapters that build them, the case desk that seals and targets them, and the
engine that recognises counsellors by them. Never logged.
"""

from __future__ import annotations


def telegram_address(chat_id: int) -> str:
    """The address of a Telegram chat (for a private chat, the user's id)."""
    return f"telegram:{chat_id}"


def telegram_chat_id(address: str) -> int | None:
    """The chat id of a `telegram:<id>` address; None for any other channel or a malformed one."""
    channel, _, ident = address.partition(":")
    return int(ident) if channel == "telegram" and ident.lstrip("-").isdigit() else None


def web_address(token: str) -> str:
    """The address of a web chat, by the token in its cookie (a bearer secret: never logged)."""
    return f"web:{token}"


def web_token(address: str) -> str | None:
    """The cookie token of a `web:<token>` address; None for any other channel or an empty one."""
    channel, _, token = address.partition(":")
    return token if channel == "web" and token else None
