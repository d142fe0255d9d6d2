"""Delivery receipts: when a counsellor's message reached the young person's chat.

A Telegram message is delivered when the Bot API accepted it; a web chat message when the page
acknowledged it by id (it was shown). The desk shows each counsellor message as sent or delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CaseMessageDB, utcnow

Receipts = Callable[[int], Awaitable[None]]


async def mark_delivered(*, session: AsyncSession, message_ids: Collection[int]) -> None:
    """Record that these counsellor messages reached the young person (the first time only)."""
    if not message_ids:
        return
    await session.execute(
        update(CaseMessageDB)
        .where(
            CaseMessageDB.id.in_(list(message_ids)),
            CaseMessageDB.sender == "counsellor",
            CaseMessageDB.delivered_at.is_(None),
        )
        .values(delivered_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def recorder(sessions: async_sessionmaker[AsyncSession]) -> Receipts:
    """A function that records one delivery in a transaction of its own."""

    async def record(message_id: int) -> None:
        async with sessions() as session, session.begin():
            await mark_delivered(session=session, message_ids=(message_id,))

    return record
