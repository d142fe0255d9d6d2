"""Concurrent claims on PostgreSQL: separate connections racing for the same queue.

Each claimer has its own engine (its own connection), as two bot processes would. These tests
fail, never skip, when PostgreSQL is down (the `postgres_url` fixture cannot create a database).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cases import repository as cases
from bot.db.migrate import upgrade
from bot.db.models import CaseDB, utcnow
from bot.db.repository import get_or_create_user
from bot.db.session import create_engine, session_factory

pytestmark = pytest.mark.postgres

ROUNDS = 20
CLAIMERS = 4
CASES_PER_ROUND = 3  # fewer cases than claimers: someone must come away empty-handed


class LostRaces:
    """Counts conditional claim UPDATEs that matched no row (another claimer got there first)."""

    def __init__(self) -> None:
        self.count = 0

    def watch(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE cases SET status") and cursor.rowcount == 0:
            self.count += 1


@pytest.fixture
async def engines(postgres_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """A migrated database and one engine for set-up plus one per claimer."""
    await upgrade(postgres_url)
    made = [create_engine(postgres_url) for _ in range(CLAIMERS + 1)]
    yield made
    for engine in made:
        await engine.dispose()


async def open_cases(sessions: async_sessionmaker[AsyncSession], tag: str, count: int) -> set[int]:
    ids = set()
    async with sessions() as session, session.begin():
        for i in range(count):
            user_id = f"{tag}-{i}".ljust(64, "x")
            await get_or_create_user(session=session, user_id=user_id, channel="telegram")
            case, created = await cases.open_case(
                session=session,
                user_id=user_id,
                channel="telegram",
                language="en",
                source="request",
                priority=cases.PRIORITIES[i % len(cases.PRIORITIES)],
            )
            assert created
            ids.add(case.id)
    return ids


async def add_counsellors(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with sessions() as session, session.begin():
        return [
            (await cases.add_counsellor(session=session, telegram_id=1000 + i, name=f"C{i}")).id
            for i in range(count)
        ]


async def claim_next_in(
    sessions: async_sessionmaker[AsyncSession], counsellor_id: int
) -> int | None:
    async with sessions() as session, session.begin():
        case = await cases.claim_next(session=session, counsellor_id=counsellor_id)
        return None if case is None else case.id


async def claim_in(
    sessions: async_sessionmaker[AsyncSession], case_id: int, counsellor_id: int
) -> int | None:
    async with sessions() as session, session.begin():
        case = await cases.claim(session=session, case_id=case_id, counsellor_id=counsellor_id)
        return None if case is None else case.id


async def close_all(sessions: async_sessionmaker[AsyncSession], owners: dict[int, int]) -> None:
    async with sessions() as session, session.begin():
        for case_id, counsellor_id in owners.items():
            closed = await cases.close_case(
                session=session, case_id=case_id, counsellor_id=counsellor_id, resolution="done"
            )
            assert closed is not None


async def test_concurrent_claim_next_never_hands_one_case_to_two_counsellors(
    engines: list[AsyncEngine],
) -> None:
    setup, claimers = session_factory(engines[0]), [session_factory(e) for e in engines[1:]]
    lost = LostRaces()
    for engine in engines[1:]:
        lost.watch(engine)
    staff = await add_counsellors(setup, CLAIMERS)
    ever_claimed: set[int] = set()
    for round_ in range(ROUNDS):
        opened = await open_cases(setup, f"r{round_}", CASES_PER_ROUND)
        got = await asyncio.gather(*(claim_next_in(claimers[i], staff[i]) for i in range(CLAIMERS)))
        taken = [case_id for case_id in got if case_id is not None]
        assert len(taken) == len(set(taken)) == CASES_PER_ROUND, got
        assert set(taken) == opened and not ever_claimed & opened
        ever_claimed |= opened
        async with setup() as session:
            rows = (await session.scalars(select(CaseDB).where(CaseDB.id.in_(opened)))).all()
            owners = {case.id: case.counsellor_id for case in rows}
            assert all(case.status == "active" for case in rows)
        # each case belongs to the one counsellor whose call returned it
        assert owners == {case_id: staff[i] for i, case_id in enumerate(got) if case_id}
        await close_all(setup, {k: v for k, v in owners.items() if v is not None})
    assert lost.count > 0, "the claimers never actually raced: the test proves nothing"


async def test_concurrent_claims_of_one_case_have_one_winner(engines: list[AsyncEngine]) -> None:
    setup, claimers = session_factory(engines[0]), [session_factory(e) for e in engines[1:]]
    staff = await add_counsellors(setup, CLAIMERS)
    for round_ in range(ROUNDS):
        [case_id] = await open_cases(setup, f"one{round_}", 1)
        got = await asyncio.gather(
            *(claim_in(claimers[i], case_id, staff[i]) for i in range(CLAIMERS))
        )
        winners = [i for i, result in enumerate(got) if result == case_id]
        assert len(winners) == 1 and got.count(None) == CLAIMERS - 1, got
        await close_all(setup, {case_id: staff[winners[0]]})


async def test_one_counsellor_on_two_devices_gets_one_case(engines: list[AsyncEngine]) -> None:
    setup, claimers = session_factory(engines[0]), [session_factory(e) for e in engines[1:]]
    [counsellor_id] = await add_counsellors(setup, 1)
    waiting: set[int] = set()
    for round_ in range(ROUNDS):
        waiting |= await open_cases(setup, f"dev{round_}", CLAIMERS)
        got = await asyncio.gather(*(claim_next_in(c, counsellor_id) for c in claimers))
        [case_id] = [result for result in got if result is not None]
        assert case_id in waiting
        waiting.remove(case_id)
        async with setup() as session:
            active = (
                await session.scalars(
                    select(CaseDB.id).where(
                        CaseDB.counsellor_id == counsellor_id, CaseDB.status == "active"
                    )
                )
            ).all()
        assert active == [case_id]
        await close_all(setup, {case_id: counsellor_id})


async def test_one_counsellor_taking_different_cases_at_once_gets_one(
    engines: list[AsyncEngine],
) -> None:
    setup, claimers = session_factory(engines[0]), [session_factory(e) for e in engines[1:]]
    [counsellor_id] = await add_counsellors(setup, 1)
    for round_ in range(ROUNDS):
        opened = sorted(await open_cases(setup, f"take{round_}", CLAIMERS))
        got = await asyncio.gather(
            *(
                claim_in(c, case_id, counsellor_id)
                for c, case_id in zip(claimers, opened, strict=True)
            )
        )
        [case_id] = [result for result in got if result is not None]
        await close_all(setup, {case_id: counsellor_id})
        async with setup() as session:
            still = await session.scalars(select(CaseDB.status).where(CaseDB.id.in_(opened)))
            assert sorted(still) == ["closed"] + ["waiting"] * (CLAIMERS - 1)


async def alert_in(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """What one bot process's alert timer would alert about now."""
    async with sessions() as session, session.begin():
        due = await cases.cases_to_alert(
            session=session, now=utcnow(), realert_after=timedelta(minutes=5)
        )
        await asyncio.sleep(0.05)  # the other process's timer fires meanwhile
        await cases.mark_alerted(session=session, case_ids=[c.id for c in due], now=utcnow())
        return [c.id for c in due]


async def test_two_processes_alert_about_each_waiting_case_once(
    engines: list[AsyncEngine],
) -> None:
    setup, timers = session_factory(engines[0]), [session_factory(e) for e in engines[1:]]
    for round_ in range(5):
        opened = await open_cases(setup, f"a{round_}", CASES_PER_ROUND)
        alerted = [
            case_id
            for batch in await asyncio.gather(*(alert_in(t) for t in timers))
            for case_id in batch
        ]
        assert sorted(alerted) == sorted(opened), alerted
