"""Engines and the autocommit connection the hot path writes through."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.db.migrate import upgrade
from bot.db.models import TelegramUpdateDB, utcnow
from bot.db.session import POOL_OVERFLOW, POOL_SIZE, autocommit, create_engine, session_factory


async def _statements_commit_alone(url: str) -> None:
    db = create_engine(url)
    sessions = session_factory(db)
    row = {"update_id": 1, "received_at": utcnow()}
    try:
        async with autocommit(sessions) as connection:
            await connection.execute(insert(TelegramUpdateDB), row)
            with pytest.raises(IntegrityError):  # the same key again fails...
                await connection.execute(insert(TelegramUpdateDB), row)
            await connection.execute(insert(TelegramUpdateDB), {**row, "update_id": 2})
        async with sessions() as session:  # ...and takes nothing else with it
            kept = await session.scalar(select(func.count()).select_from(TelegramUpdateDB))
        assert kept == 2
        # the connection went back to the pool transactional again: a failure rolls back all
        async with sessions() as session:
            with pytest.raises(IntegrityError):
                async with session.begin():
                    await session.execute(insert(TelegramUpdateDB), {**row, "update_id": 3})
                    await session.execute(insert(TelegramUpdateDB), row)
            assert await session.get(TelegramUpdateDB, 3) is None
    finally:
        await db.dispose()


async def test_sqlite_autocommit(sqlite_url: str) -> None:
    await _statements_commit_alone(sqlite_url)


@pytest.mark.postgres
async def test_postgres_autocommit(postgres_url: str) -> None:
    await upgrade(postgres_url)
    await _statements_commit_alone(postgres_url)


@pytest.mark.postgres
async def test_postgres_pool_fits_two_bots_and_the_console(postgres_url: str) -> None:
    db = create_engine(postgres_url)
    try:
        assert db.pool.size() == POOL_SIZE == 20  # 64 updates answered at once share these
        assert 3 * (POOL_SIZE + POOL_OVERFLOW) <= 100  # PostgreSQL's default max_connections
        assert not db.pool._pre_ping  # the bot: no ping per checkout
        pinged = create_engine(postgres_url, pool_pre_ping=True)  # the console's choice
        assert pinged.pool._pre_ping
        await pinged.dispose()
    finally:
        await db.dispose()
