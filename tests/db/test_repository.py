"""Users, messages and feedback on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.migrate import upgrade
from bot.db.models import FeedbackDB, UserDB
from bot.db.repository import get_or_create_user, log_message, record_feedback
from bot.db.session import async_url, create_engine, session_factory
from bot.privacy import pseudonymise


async def _exercise(sessions: async_sessionmaker[AsyncSession]) -> None:
    user_id = pseudonymise("k" * 20, "telegram", 123456789)
    async with sessions() as session, session.begin():
        user = await get_or_create_user(session=session, user_id=user_id, channel="telegram")
        user.language = "sw"
        user.state_data = {"topic": "hiv"}
        answer_id = await log_message(
            session=session, user_id=user_id, direction="out", kind="answer", content_id="condoms"
        )
        assert await record_feedback(
            session=session, user_id=user_id, message_id=answer_id, helpful=True
        )
        assert (
            await record_feedback(
                session=session, user_id="someone-else", message_id=answer_id, helpful=True
            )
            is None
        )
    # two "processes" meeting the same new user at once both succeed, one row results
    other = pseudonymise("k" * 20, "telegram", 42)

    async def meet() -> None:
        async with sessions() as session, session.begin():
            await get_or_create_user(session=session, user_id=other, channel="telegram")

    await asyncio.gather(meet(), meet())
    async with sessions() as session:
        stored = await session.get(UserDB, user_id)
        assert stored is not None
        assert (stored.language, stored.state_data) == ("sw", {"topic": "hiv"})
        assert await session.scalar(select(func.count()).select_from(UserDB)) == 2
        assert await session.scalar(select(func.count()).select_from(FeedbackDB)) == 1


async def test_repository_on_sqlite(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _exercise(sessions)


@pytest.mark.postgres
async def test_repository_on_postgres(postgres_url: str) -> None:
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        await _exercise(session_factory(engine))
    finally:
        await engine.dispose()


def test_plain_urls_get_async_drivers() -> None:
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert async_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert async_url("postgres://u@h/db").startswith("postgresql+asyncpg://")


def test_pseudonyms_are_keyed_and_stable() -> None:
    a = pseudonymise("secret-one-123456", "telegram", 123)
    assert a == pseudonymise("secret-one-123456", "telegram", 123)
    assert a != pseudonymise("secret-two-123456", "telegram", 123)
    assert "123" not in a and len(a) == 64


async def test_a_failing_statement_names_no_parameters(sqlite_url: str) -> None:
    from sqlalchemy import text as sql
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sql("CREATE TABLE t (x TEXT NOT NULL UNIQUE)"))
            await connection.execute(sql("INSERT INTO t VALUES (:x)"), {"x": "nataka kujiua"})
            with pytest.raises(IntegrityError) as raised:
                await connection.execute(sql("INSERT INTO t VALUES (:x)"), {"x": "nataka kujiua"})
    finally:
        await engine.dispose()
    assert "nataka kujiua" not in str(raised.value)
