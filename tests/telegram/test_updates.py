"""The update ledger: each update taken once, redeliveries told apart, dead takers replaced."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

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
