"""The web outbox: messages waiting for a web-chat page to fetch them.

A counsellor's reply or a case update for a `web:<token>` address can be made in any process (the
bot, the console), but only the page can collect it: it polls. Rows carry a keyed hash of the
address, never the token itself. A page acknowledges what it has shown by polling with a cursor
past it; acknowledged rows are deleted then, and anything left is deleted after a day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import WebOutboxDB, utcnow
from bot.dialogue.addresses import web_token
from bot.dialogue.messages import Reply
from bot.privacy import pseudonymise

KEEP_FOR = timedelta(days=1)
FETCH_LIMIT = 50
Outbox = Callable[[Reply], Awaitable[None]]


def outbox_key(secret: str, address: str) -> str:
    """The keyed hash that stands for a web chat's address in the outbox."""
    return pseudonymise(secret, "outbox", address)


async def post(*, session: AsyncSession, reply: Reply, secret: str) -> None:
    """Store a reply for the web chat it is addressed to (and purge expired rows)."""
    if web_token(reply.to) is None:
        raise ValueError("only replies for a web chat go to the web outbox")
    await purge(session=session)
    session.add(
        WebOutboxDB(
            address=outbox_key(secret, reply.to),
            text=reply.text,
            buttons=_buttons(reply),
            created_at=utcnow(),
        )
    )
    await session.flush()


async def fetch(
    *, session: AsyncSession, address: str, secret: str, after: int
) -> tuple[list[WebOutboxDB], int]:
    """The chat's rows after the cursor, oldest first, and the new cursor.

    Rows up to `after` were shown already: they are deleted.
    """
    key = outbox_key(secret, address)
    await session.execute(
        delete(WebOutboxDB)
        .where(WebOutboxDB.address == key, WebOutboxDB.id <= after)
        .execution_options(synchronize_session=False)
    )
    rows = list(
        await session.scalars(
            select(WebOutboxDB)
            .where(WebOutboxDB.address == key, WebOutboxDB.id > after)
            .order_by(WebOutboxDB.id)
            .limit(FETCH_LIMIT)
        )
    )
    return rows, (rows[-1].id if rows else after)


async def purge(*, session: AsyncSession) -> None:
    """Delete rows older than a day, fetched or not."""
    await session.execute(
        delete(WebOutboxDB)
        .where(WebOutboxDB.created_at < utcnow() - KEEP_FOR)
        .execution_options(synchronize_session=False)
    )


def writer(sessions: async_sessionmaker[AsyncSession], secret: str) -> Outbox:
    """A delivery function for `web:` replies, each stored in a transaction of its own."""

    async def write(reply: Reply) -> None:
        async with sessions() as session, session.begin():
            await post(session=session, reply=reply, secret=secret)

    return write


def _buttons(reply: Reply) -> list[Any]:
    return [[{"label": b.label, "payload": b.payload} for b in row] for row in reply.buttons]
