"""The web outbox: messages waiting for a web-chat page to fetch them.

A counsellor's reply or a case update for a `web:<identity>` address can be made in any process
(the bot, the console), but only the page can collect it: it polls. Rows carry a keyed hash of the
address, never the address itself. A page acknowledges each message it has shown by its id on its
next poll; acknowledged rows are deleted then (a counsellor message is recorded as delivered), and
anything left is deleted after a day. Ids are never reused (AUTOINCREMENT, or PostgreSQL's
sequence), and acknowledging by id rather than by a cursor keeps a message committed late, with a
lower id than one already shown, from being skipped. A page shows each id once.

Nothing is stored for a chat that was ended (quick exit, /exit, /delete): nobody will read it,
and the next person on the phone must not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.receipts import mark_delivered
from bot.db.models import EndedWebChatDB, WebOutboxDB, utcnow
from bot.dialogue.addresses import web_token
from bot.dialogue.messages import Reply
from bot.privacy import pseudonymise

KEEP_FOR = timedelta(days=1)
FETCH_LIMIT = 50
Outbox = Callable[[Reply], Awaitable[None]]


def outbox_key(secret: str, address: str) -> str:
    """The keyed hash that stands for a web chat's address in the outbox (and once it ended)."""
    return pseudonymise(secret, "outbox", address)


async def post(*, session: AsyncSession, reply: Reply, secret: str) -> None:
    """Store a reply for the web chat it is addressed to (and purge expired rows).

    A reply for a chat that was ended is dropped.
    """
    if web_token(reply.to) is None:
        raise ValueError("only replies for a web chat go to the web outbox")
    await purge(session=session)
    key = outbox_key(secret, reply.to)
    if await session.get(EndedWebChatDB, key) is not None:
        return
    session.add(
        WebOutboxDB(
            address=key,
            text=reply.text,
            buttons=_buttons(reply),
            receipt=reply.receipt,
            created_at=utcnow(),
        )
    )
    await session.flush()


async def acknowledge(
    *, session: AsyncSession, address: str, secret: str, ids: Collection[int]
) -> None:
    """The page showed these rows: delete them, and record the counsellor messages delivered."""
    if not ids:
        return
    shown = (
        (
            await session.execute(
                delete(WebOutboxDB)
                .where(
                    WebOutboxDB.address == outbox_key(secret, address),
                    WebOutboxDB.id.in_(list(ids)),
                )
                .returning(WebOutboxDB.receipt)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    await mark_delivered(session=session, message_ids=[r for r in shown if r is not None])


async def fetch(*, session: AsyncSession, address: str, secret: str) -> list[WebOutboxDB]:
    """The chat's rows not acknowledged yet, oldest first (a page skips ids it showed)."""
    return list(
        await session.scalars(
            select(WebOutboxDB)
            .where(WebOutboxDB.address == outbox_key(secret, address))
            .order_by(WebOutboxDB.id)
            .limit(FETCH_LIMIT)
        )
    )


async def discard(*, session: AsyncSession, address: str, secret: str) -> None:
    """Delete every row for a chat (it ended)."""
    await session.execute(
        delete(WebOutboxDB)
        .where(WebOutboxDB.address == outbox_key(secret, address))
        .execution_options(synchronize_session=False)
    )


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
