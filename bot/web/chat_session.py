"""The web chat's session: a token only the server issues, ended by quick exit, /exit and /delete.

Phones are shared. The cookie holds `<identity>.<timestamp>.<signature>`: a random identity
(the chat's address and pseudonym are made from it) signed with the time it was last renewed.
The server renews the signature while the page is in use; after IDLE without a visit, a send or
a poll, the token is refused and the next visit starts a new chat. A token the server did not
sign opens nothing (and makes no user row). Ending a chat records its keyed hash in
`ended_web_chats` (the retention purge forgets it after IDLE, when the signature has expired
anyway) and deletes its outbox, so a copied cookie, a re-poll or the next person on the phone
finds nothing and cannot write into the open case. The cookie itself is a session cookie
(no Max-Age).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadData, TimestampSigner
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import EndedWebChatDB, utcnow
from bot.dialogue.addresses import web_address
from bot.web import outbox

IDLE = timedelta(hours=12)
RENEW_AFTER = timedelta(minutes=10)  # a signature older than this is renewed on the next call
IDENTITY = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_SALT = "healthbot web chat session v2"


@dataclass(frozen=True)
class ChatSession:
    """A web chat's valid token: its identity, and whether its signature should be renewed."""

    identity: str
    stale: bool

    @property
    def address(self) -> str:
        """Where replies for this chat go (`web:<identity>`)."""
        return web_address(self.identity)


def _signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt=_SALT)


def issue(secret: str) -> tuple[str, ChatSession]:
    """A new chat: its token, and the session it stands for."""
    identity = secrets.token_urlsafe(32)
    return sign(secret, identity), ChatSession(identity, stale=False)


def sign(secret: str, identity: str) -> str:
    """The token for `identity`, signed now (a renewal keeps the identity)."""
    return _signer(secret).sign(identity).decode("ascii")


def read(secret: str, token: str | None) -> ChatSession | None:
    """The session a token stands for; None if the server did not sign it or it went idle."""
    if not token or len(token) > 128 or not token.isascii():
        return None
    try:
        value, signed_at = _signer(secret).unsign(
            token, max_age=int(IDLE.total_seconds()), return_timestamp=True
        )
    except BadData:  # a bad or expired signature, or a malformed token
        return None
    identity = value.decode("ascii")
    if not IDENTITY.fullmatch(identity):
        return None
    return ChatSession(identity, stale=utcnow() - signed_at > RENEW_AFTER)


async def is_ended(*, session: AsyncSession, secret: str, chat: ChatSession) -> bool:
    """Whether this chat was ended (quick exit, /exit, /delete)."""
    key = outbox.outbox_key(secret, chat.address)
    return await session.get(EndedWebChatDB, key) is not None


async def end(*, session: AsyncSession, secret: str, chat: ChatSession) -> None:
    """End a chat: its token opens nothing from now on, and its waiting messages are deleted."""
    key = outbox.outbox_key(secret, chat.address)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(EndedWebChatDB).values(key=key, ended_at=utcnow()).on_conflict_do_nothing()
    )
    await outbox.discard(session=session, address=chat.address, secret=secret)
