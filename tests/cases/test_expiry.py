"""Cases nobody takes within a day close as expired: the young person is told, staff see why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases import repository as cases
from bot.cases.repository import EXPIRED_RESOLUTION, WAIT_LIMIT, add_counsellor, claim, set_duty
from bot.db.migrate import upgrade
from bot.db.models import AuditDB, CaseDB, UserDB, utcnow
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind
from bot.retention import purge
from tests.factories import USER, plain

YOUNG = "telegram:555000111"
STAFF = "telegram:900001"


def young(*, command: str = "", payload: str = "") -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON
    return Inbound(USER, "telegram", kind, command=command, payload=payload, address=YOUNG)


async def ask_for_a_counsellor(engine: DialogueEngine, language: str = "en") -> None:
    await engine.handle(young(command="start"))
    await engine.handle(young(payload=f"lang:{language}"))
    await engine.handle(young(payload="ask:talk_to_counsellor"))


async def waited(sessions: async_sessionmaker[AsyncSession], how_long: timedelta) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(CaseDB).values(opened_at=utcnow() - how_long))


async def the_case(sessions: async_sessionmaker[AsyncSession]) -> CaseDB:
    async with sessions() as session:
        case = await session.scalar(select(CaseDB))
    assert case is not None
    return case


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["no counsellor was free", "1199", "116", "1195", "999", "Talk to a counsellor"]),
        ("sw", ["hakuna mshauri", "1199", "116", "1195", "999", "Ongea na mshauri"]),
    ],
)
async def test_a_case_waiting_over_a_day_is_closed_and_the_young_person_told(
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    language: str,
    words: list[str],
) -> None:
    await ask_for_a_counsellor(engine, language)
    await waited(sessions, WAIT_LIMIT + timedelta(minutes=1))
    replies = await engine.due_alerts()  # the bot's case timer (nobody on duty)
    [goodbye] = [r for r in replies if r.to == YOUNG]
    for word in words:
        assert word in plain(goodbye), word
    case = await the_case(sessions)
    assert (case.status, case.resolution, case.route) == ("closed", EXPIRED_RESOLUTION, None)
    assert case.closed_at is not None and case.user_id == USER
    async with sessions() as session:
        user = await session.get(UserDB, USER)
        [row] = list(await session.scalars(select(AuditDB)))
    assert user is not None and user.state == "idle"
    assert (row.actor, row.action, row.target) == ("system", "case.expire", f"case {case.id}")
    assert await engine.expire_waiting_cases() == []  # once only


async def test_after_expiry_the_young_person_is_purged_like_anyone_else(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ask_for_a_counsellor(engine)
    async with sessions() as session, session.begin():
        await session.execute(update(UserDB).values(last_seen_at=utcnow() - timedelta(days=100)))
    await waited(sessions, timedelta(days=100))
    assert (await purge(sessions, retention_days=90)).users == 0  # a waiting case keeps them
    await engine.expire_waiting_cases()
    report = await purge(sessions, retention_days=90)
    assert (report.users, report.cases_unlinked) == (1, 1)
    case = await the_case(sessions)
    assert case.user_id is None and case.route is None


async def test_a_case_waiting_less_than_a_day_is_untouched(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ask_for_a_counsellor(engine)
    await waited(sessions, WAIT_LIMIT - timedelta(minutes=1))
    assert [r for r in await engine.due_alerts() if r.to == YOUNG] == []
    assert await engine.expire_waiting_cases() == []
    case = await the_case(sessions)
    assert case.status == "waiting" and case.route is not None and case.resolution is None


async def test_a_case_claimed_at_the_same_moment_is_not_expired(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ask_for_a_counsellor(engine)
    await waited(sessions, WAIT_LIMIT + timedelta(hours=1))
    before = utcnow() - WAIT_LIMIT
    async with sessions() as session, session.begin():
        [stale] = await cases.stale_waiting(session=session, before=before)
        staff = await add_counsellor(session=session, telegram_id=900001, name="Asha")
        assert await claim(session=session, case_id=stale, counsellor_id=staff.id) is not None
        assert await cases.expire_case(session=session, case_id=stale, before=before) is None
    case = await the_case(sessions)
    assert case.status == "active" and case.route is not None
    assert await engine.expire_waiting_cases() == []


async def test_a_claimed_case_is_never_expired_by_the_timer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ask_for_a_counsellor(engine)
    async with sessions() as session, session.begin():
        staff = await add_counsellor(session=session, telegram_id=900001, name="Asha")
        await set_duty(session=session, counsellor_id=staff.id, on_duty=True)
        await claim(session=session, case_id=1, counsellor_id=staff.id)
    await waited(sessions, timedelta(days=3))
    assert await engine.expire_waiting_cases() == []
    assert (await the_case(sessions)).status == "active"


async def test_a_case_handed_back_after_a_recent_reply_is_not_expired(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A transfer keeps the queue place (opened_at), but the young person was answered lately."""
    await ask_for_a_counsellor(engine)
    async with sessions() as session, session.begin():
        await session.execute(
            update(CaseDB).values(
                opened_at=utcnow() - timedelta(days=2), first_reply_at=utcnow() - timedelta(hours=1)
            )
        )
    assert await engine.expire_waiting_cases() == []
    assert (await the_case(sessions)).status == "waiting"


# PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
async def pg_sessions(postgres_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade(postgres_url)
    db = create_engine(postgres_url)
    yield session_factory(db)
    await db.dispose()


@pytest.mark.postgres
async def test_a_claim_and_an_expiry_at_once_on_postgresql(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The claim holds the row; the expiry waits for it, then finds the case no longer waiting."""
    async with pg_sessions() as session, session.begin():
        session.add(UserDB(id=USER, channel="telegram", state="waiting_counsellor", state_data={}))
        await session.flush()
        session.add(
            CaseDB(
                user_id=USER,
                channel="telegram",
                language="en",
                source="request",
                priority="normal",
                status="waiting",
                opened_at=utcnow() - WAIT_LIMIT - timedelta(hours=1),
                route="sealed",
            )
        )
        staff = await add_counsellor(session=session, telegram_id=900001, name="Asha")
    before = utcnow() - WAIT_LIMIT
    async with pg_sessions() as claiming, claiming.begin():
        [stale] = await cases.stale_waiting(session=claiming, before=before)
        assert await claim(session=claiming, case_id=stale, counsellor_id=staff.id) is not None

        async def expire() -> object:
            async with pg_sessions() as expiring, expiring.begin():
                return await cases.expire_case(session=expiring, case_id=stale, before=before)

        expiry = asyncio.create_task(expire())
        await asyncio.sleep(0.3)
        assert not expiry.done()  # waiting for the claim's row lock
    assert await expiry is None
    async with pg_sessions() as session:
        case = await session.get(CaseDB, stale)
    assert case is not None and case.status == "active" and case.route == "sealed"


@pytest.mark.postgres
async def test_expiry_on_postgresql(pg_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with pg_sessions() as session, session.begin():
        for n, age in enumerate(
            (WAIT_LIMIT + timedelta(minutes=1), WAIT_LIMIT - timedelta(minutes=1))
        ):
            user_id = f"{n}" * 64
            session.add(UserDB(id=user_id, channel="telegram", state="idle", state_data={}))
            await session.flush()
            session.add(
                CaseDB(
                    user_id=user_id,
                    channel="telegram",
                    language="en",
                    source="request",
                    priority="normal",
                    status="waiting",
                    opened_at=utcnow() - age,
                    route=f"sealed {n}",
                )
            )
    before = utcnow() - WAIT_LIMIT
    async with pg_sessions() as session, session.begin():
        [stale] = await cases.stale_waiting(session=session, before=before)
        expired = await cases.expire_case(session=session, case_id=stale, before=before)
        assert expired is not None and expired[1] == "sealed 0"
    async with pg_sessions() as session:
        rows = {c.route or "-": c.status for c in await session.scalars(select(CaseDB))}
        recent = await cases.recently_expired(session=session, since=utcnow() - timedelta(hours=1))
    assert rows == {"-": "closed", "sealed 1": "waiting"}
    assert [c.resolution for c in recent] == [EXPIRED_RESOLUTION]
