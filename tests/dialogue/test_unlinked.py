"""Rows linked to nobody are written apart from the turn, so nothing joins them back to it.

Issue 17: `unanswered` and `referral_searches` rows were written in the turn's own transaction,
so on PostgreSQL their `xmin` was the turn's `messages` row's: the row "linked to nobody" was
linked to the young person for as long as it was kept.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import UnansweredDB
from bot.db.session import create_engine, session_factory
from bot.dialogue.messages import Inbound, InboundKind
from bot.dialogue.unlinked import Unlinked
from nlu.embedded import EmbeddedParser
from tests.conftest import make_engine
from tests.factories import USER

QUESTION = "what is the capital of peru"


def say(words: str) -> Inbound:
    return Inbound(USER, "telegram", InboundKind.TEXT, text=words, address="telegram:1")


async def unanswered(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(UnansweredDB)) or 0)


async def test_an_unanswered_question_is_not_written_in_the_turn(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    engine = make_engine(sessions, parser, content)
    await engine.handle(say(QUESTION))
    assert await unanswered(sessions) == 0, "not in the turn's transaction"
    await engine.write_unlinked()
    assert await unanswered(sessions) == 1


@pytest.mark.postgres
async def test_on_postgresql_its_transaction_is_not_the_turns(
    postgres_url: str, parser: EmbeddedParser, content: ContentStore
) -> None:
    await upgrade(postgres_url)
    database = create_engine(postgres_url)
    sessions = session_factory(database)
    try:
        engine = make_engine(sessions, parser, content)
        await engine.handle(say(QUESTION))
        await engine.write_unlinked()
        async with sessions() as session:
            turns = set((await session.execute(text("SELECT xmin::text FROM messages"))).scalars())
            kept = set((await session.execute(text("SELECT xmin::text FROM unanswered"))).scalars())
    finally:
        await database.dispose()
    assert len(kept) == 1 and turns and not kept & turns


async def test_rows_wait_until_it_is_time_and_are_written_before_the_next_turn_adds(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = [0.0]
    waiting = Unlinked(sessions, every=timedelta(minutes=5), clock=lambda: now[0])
    waiting.add(UnansweredDB(text="one", language="en", guess=None))
    await waiting.write_due()
    assert await unanswered(sessions) == 0 and waiting.waiting == 1
    now[0] = 301.0
    await waiting.write_due()
    assert await unanswered(sessions) == 1 and waiting.waiting == 0


async def test_a_failed_write_is_logged_by_type_and_never_reaches_the_turn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = create_engine("sqlite:////nonexistent-dir/none/x.db")
    waiting = Unlinked(session_factory(broken))
    waiting.add(UnansweredDB(text="my secret question", language="en", guess=None))
    with caplog.at_level(logging.DEBUG, logger="bot"):
        await waiting.write()  # does not raise
    await broken.dispose()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "unlinked counts not written: OperationalError" in ours
    assert "my secret question" not in ours and waiting.waiting == 0
