"""The update ledger: each update taken once, redeliveries told apart, dead takers replaced."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.db.migrate import upgrade
from bot.db.models import utcnow
from bot.db.session import create_engine, session_factory
from bot.updates import LEASE, Claim, UpdateLedger


async def _ledger_behaviour(url: str) -> None:
    db = create_engine(url)
    try:
        ledger = UpdateLedger(session_factory(db))
        now = utcnow()
        assert await ledger.take(7, now) is Claim.TAKEN
        assert await ledger.take(7, now) is Claim.IN_PROGRESS  # being answered: ask again later
        assert await ledger.take(8, now) is Claim.TAKEN  # another update is independent
        await ledger.handled(7, now)
        assert await ledger.take(7, now + LEASE * 3) is Claim.DUPLICATE  # answered: never again
        later = now + LEASE + timedelta(seconds=1)  # 8's taker died without answering
        assert await ledger.take(8, later) is Claim.TAKEN
        assert await ledger.take(8, later) is Claim.IN_PROGRESS
        # many processes receiving one update at once: exactly one takes it
        claims = await asyncio.gather(*(ledger.take(9, now) for _ in range(8)))
        assert claims.count(Claim.TAKEN) == 1
        assert claims.count(Claim.IN_PROGRESS) == 7
    finally:
        await db.dispose()


async def test_sqlite_ledger(sqlite_url: str) -> None:
    await _ledger_behaviour(sqlite_url)


@pytest.mark.postgres
async def test_postgres_ledger(postgres_url: str) -> None:
    await upgrade(postgres_url)
    await _ledger_behaviour(postgres_url)


async def _kept_updates(url: str) -> None:
    db = create_engine(url)
    try:
        ledger = UpdateLedger(session_factory(db), secret="ledger-secret-0123456789abcdef")
        update = {"update_id": 31, "message": {"text": "Achieng from Kisumu", "chat": {"id": 5}}}
        await ledger.keep([(31, update), (32, {"update_id": 32})])
        async with db.connect() as connection:
            raw = (await connection.execute(text("SELECT payload FROM telegram_updates"))).all()
        assert raw and not any("Achieng" in str(row.payload) for row in raw), "sealed, not plain"
        assert await ledger.unanswered() == [(31, update), (32, {"update_id": 32})]
        await ledger.handled(31)
        assert await ledger.unanswered() == [(32, {"update_id": 32})]
        async with db.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT payload, handled_at FROM telegram_updates WHERE update_id = 31")
                )
            ).one()
        assert row.payload is None and row.handled_at is not None, "answered: nothing kept"
        other = UpdateLedger(session_factory(db), secret="another-secret-0123456789abcdef")
        assert await other.unanswered() == []  # unreadable under another secret: dropped
        assert not await ledger.unhandled(32)
    finally:
        await db.dispose()


async def test_sqlite_kept_updates_sealed_and_cleared(sqlite_url: str) -> None:
    await _kept_updates(sqlite_url)


@pytest.mark.postgres
async def test_postgres_kept_updates_sealed_and_cleared(postgres_url: str) -> None:
    await upgrade(postgres_url)
    await _kept_updates(postgres_url)
