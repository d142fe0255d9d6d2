"""What channels hand to the engine and what it hands back. Nothing here knows about Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.content.render import Format

MAX_TEXT = 4096


class InboundKind(StrEnum):
    """What the young person sent."""

    TEXT = "text"
    BUTTON = "button"
    COMMAND = "command"
    LOCATION = "location"  # a shared pin: used for one search, never stored or logged
    MEDIA = "media"  # sticker, photo, voice, document, contact... anything else


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a young person, already pseudonymised by the channel adapter."""

    user_id: str
    channel: str
    kind: InboundKind
    text: str = ""
    payload: str = ""
    command: str = ""
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""  # "telegram:<chat id>": where the bot can write back; sealed, never logged

    @property
    def format(self) -> Format:
        """How replies on this channel are marked up."""
        return "plain" if self.channel == "cli" else "html"


@dataclass(frozen=True, slots=True)
class Button:
    """A button: the label the user sees and the payload that comes back (≤ 64 bytes)."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Call:
    """A helpline the young person can call with one tap, where the channel has such buttons."""

    label: str
    number: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One outbound message: finished text in the channel's format plus rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    delete_message_ids: tuple[int, ...] = ()  # quick exit: channel messages to delete first
    request_location: str = ""  # label of a "share my location" button, where the channel has one
    to: str = ""  # another chat ("telegram:<chat id>"): a relay or an alert; empty = this chat
    calls: tuple[Call, ...] = ()  # tap-to-call helplines shown first (crisis answers)
    # the `case_messages` row (a counsellor's message) it carries: delivery is recorded on it
    receipt: int | None = None
    # the person left (/exit) or erased their data: a channel whose identity lives in a session
    # (the web chat's cookie) ends that session, so the next person on the phone starts afresh
    ends_session: bool = False
