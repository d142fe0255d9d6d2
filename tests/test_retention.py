"""The retention purge deletes exactly what is past its time, and nothing newer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import retention
from bot.db.migrate import upgrade
from bot.db.models import (
    NAIROBI_OFFSET,
    AuditDB,
    CaseDB,
    CaseMessageDB,
    CaseNoteDB,
    ChannelMessageDB,
    EndedWebChatDB,
    FeedbackDB,
    MessageDB,
    ReferralSearchDB,
    TelegramUpdateDB,
    UnansweredDB,
    UserDB,
    WebOutboxDB,
)
from bot.db.session import create_engine, session_factory
from bot.retention import PurgeReport, purge
from bot.web.chat_session import IDLE

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TODAY = (NOW + NAIROBI_OFFSET).date()
DAYS = 90

ACTIVE = "a" * 64  # seen yesterday
GONE = "g" * 64  # not seen for 91 days, one closed case with a note
WAITING = "w" * 64  # not seen for 120 days, but a case is waiting for a counsellor
RECENT = "r" * 64  # not seen for 89 days

EXPECTED = {
    "messages": 2,
    "feedback": 1,
    "case_messages": 1,
    "case_routes": 3,
    "cases_unlinked": 1,
    "users": 1,
    "case_notes": 1,
    "cases": 1,
    "audit_log": 1,
    "channel_messages": 1,
    "telegram_updates": 1,
    "web_outbox": 1,
    "ended_web_chats": 1,
    "unanswered": 1,
    "referral_searches": 1,
}


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@dataclass
class Kept:
    """The ids of rows just inside their time, which the purge must keep."""

    message: int
    feedback: int
    case_message: int
    routed_case: int
    year_case: int
    audit: int
    channel_message: int
    update: int
    outbox: int
    ended_chat: str
    unanswered: str
    search: str


def user(user_id: str, last_seen: datetime) -> UserDB:
    return UserDB(
        id=user_id,
        channel="telegram",
        state="idle",
        state_data={},
        created_at=ago(days=200),
        last_seen_at=last_seen,
    )


def message(user_id: str, created: datetime) -> MessageDB:
    return MessageDB(
        user_id=user_id, direction="out", kind="answer", content_id="hiv_prep", created_at=created
    )


def closed_case(user_id: str | None, closed: datetime, route: str | None = "sealed") -> CaseDB:
    return CaseDB(
        user_id=user_id,
        channel="telegram",
        language="en",
        source="request",
        priority="normal",
        status="closed",
        opened_at=closed - timedelta(hours=1),
        closed_at=closed,
        route=route,
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> Kept:
    """Rows on both sides of every limit."""
    async with sessions() as session, session.begin():
        session.add_all(
            [
                user(ACTIVE, ago(days=1)),
                user(GONE, ago(days=91)),
                user(WAITING, ago(days=120)),
                user(RECENT, ago(days=89)),
            ]
        )
        await session.flush()
        old, new, gone = message(ACTIVE, ago(days=91)), message(ACTIVE, ago(days=89)), None
        gone = message(GONE, ago(days=95))
        session.add_all([old, new, gone])
        await session.flush()
        old_vote = FeedbackDB(user_id=ACTIVE, message_id=old.id, content_id="x", helpful=True)
        new_vote = FeedbackDB(user_id=ACTIVE, message_id=new.id, content_id="x", helpful=False)
        waiting = CaseDB(
            user_id=WAITING,
            channel="telegram",
            language="en",
            source="crisis",
            priority="urgent",
            status="waiting",
            opened_at=ago(days=120),
            route="sealed",
        )
        stale_route = closed_case(ACTIVE, ago(days=91))
        day_old_route = closed_case(ACTIVE, ago(hours=24, minutes=1))  # past the rating window
        fresh_route = closed_case(ACTIVE, ago(hours=23, minutes=59))
        gone_case = closed_case(GONE, ago(days=100))
        old_case = closed_case(None, ago(days=365, minutes=1), route=None)
        year_case = closed_case(None, ago(days=364, hours=23, minutes=59), route=None)
        session.add_all(
            [
                old_vote,
                new_vote,
                waiting,
                stale_route,
                day_old_route,
                fresh_route,
                gone_case,
                old_case,
                year_case,
            ]
        )
        await session.flush()
        old_line = CaseMessageDB(
            case_id=waiting.id, sender="young", text="a", created_at=ago(days=91)
        )
        new_line = CaseMessageDB(
            case_id=waiting.id, sender="young", text="b", created_at=ago(days=1)
        )
        note = CaseNoteDB(case_id=gone_case.id, text="follow up", created_at=ago(days=100))
        old_note = CaseNoteDB(case_id=old_case.id, text="old", created_at=ago(days=366))
        year_note = CaseNoteDB(case_id=year_case.id, text="year", created_at=ago(days=366))
        audit_old = AuditDB(actor="cli", action="x", target="c", at=ago(days=365, minutes=1))
        audit_new = AuditDB(actor="cli", action="x", target="c", at=ago(days=364, hours=23))
        chat_old = ChannelMessageDB(user_id=ACTIVE, message_id=1, created_at=ago(days=2, minutes=1))
        chat_new = ChannelMessageDB(user_id=ACTIVE, message_id=2, created_at=ago(days=1, hours=23))
        update_old = TelegramUpdateDB(update_id=1, received_at=ago(hours=25))
        update_new = TelegramUpdateDB(update_id=2, received_at=ago(hours=23))
        outbox_old = WebOutboxDB(address="k", text="x", buttons=[], created_at=ago(hours=25))
        outbox_new = WebOutboxDB(address="k", text="y", buttons=[], created_at=ago(hours=23))
        ended_old = EndedWebChatDB(key="o" * 64, ended_at=ago(hours=12, minutes=1))
        ended_new = EndedWebChatDB(key="n" * 64, ended_at=ago(hours=11, minutes=59))
        question_old = UnansweredDB(text="q", language="en", day=TODAY - timedelta(days=366))
        question_new = UnansweredDB(text="q", language="en", day=TODAY - timedelta(days=365))
        search_old = ReferralSearchDB(service="prep", day=TODAY - timedelta(days=366))
        search_new = ReferralSearchDB(service="prep", day=TODAY - timedelta(days=365))
        session.add_all(
            [
                old_line,
                new_line,
                note,
                old_note,
                year_note,
                audit_old,
                audit_new,
                chat_old,
                chat_new,
                update_old,
                update_new,
                outbox_old,
                outbox_new,
                ended_old,
                ended_new,
                question_old,
                question_new,
                search_old,
                search_new,
            ]
        )
        await session.flush()
        return Kept(
            message=new.id,
            feedback=new_vote.id,
            case_message=new_line.id,
            routed_case=fresh_route.id,
            year_case=year_case.id,
            audit=audit_new.id,
            channel_message=chat_new.id,
            update=update_new.update_id,
            outbox=outbox_new.id,
            ended_chat=ended_new.key,
            unanswered=question_new.id,
            search=search_new.id,
        )


async def ids(sessions: async_sessionmaker[AsyncSession], column: Any) -> list[Any]:
    async with sessions() as session:
        return list(await session.scalars(select(column)))


async def check_what_is_left(sessions: async_sessionmaker[AsyncSession], kept: Kept) -> None:
    assert await ids(sessions, MessageDB.id) == [kept.message]
    assert await ids(sessions, FeedbackDB.id) == [kept.feedback]
    assert await ids(sessions, CaseMessageDB.id) == [kept.case_message]
    assert sorted(await ids(sessions, UserDB.id)) == sorted([ACTIVE, WAITING, RECENT])
    assert await ids(sessions, ChannelMessageDB.id) == [kept.channel_message]
    assert await ids(sessions, TelegramUpdateDB.update_id) == [kept.update]
    assert await ids(sessions, WebOutboxDB.id) == [kept.outbox]
    assert await ids(sessions, EndedWebChatDB.key) == [kept.ended_chat]
    assert await ids(sessions, UnansweredDB.id) == [kept.unanswered]
    assert await ids(sessions, ReferralSearchDB.id) == [kept.search]
    async with sessions() as session:
        cases = {c.id: c for c in await session.scalars(select(CaseDB))}
        notes = list(await session.scalars(select(CaseNoteDB)))
    assert len(cases) == 6  # only the case closed over a year ago went, with its note
    assert kept.year_case in cases
    routed = [c.id for c in cases.values() if c.route is not None]
    assert sorted(routed) == sorted(
        [kept.routed_case, next(c.id for c in cases.values() if c.status == "waiting")]
    )
    unlinked = sorted(c.id for c in cases.values() if c.user_id is None)
    assert sorted(n.case_id for n in notes) == unlinked
    assert sorted(n.text for n in notes) == ["follow up", "year"]
    assert await ids(sessions, AuditDB.id) == [kept.audit]


async def test_purge_removes_exactly_what_is_older_than_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kept = await seed(sessions)
    report = await purge(sessions, retention_days=DAYS, now=NOW)
    assert report.counts() == EXPECTED
    await check_what_is_left(sessions, kept)
    again = await purge(sessions, retention_days=DAYS, now=NOW)
    assert again.counts() == dict.fromkeys(EXPECTED, 0)


async def test_a_shorter_retention_reaches_newer_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions)
    report = await purge(sessions, retention_days=30, now=NOW)
    # the 89-day-old message goes too, and RECENT (89 days away) with it
    assert (report.messages, report.feedback, report.users) == (3, 2, 2)
    assert sorted(await ids(sessions, UserDB.id)) == sorted([ACTIVE, WAITING])


async def test_inactive_users_with_an_open_case_are_kept_with_their_case(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions)
    await purge(sessions, retention_days=DAYS, now=NOW)
    async with sessions() as session:
        waiting = await session.scalar(select(CaseDB).where(CaseDB.status == "waiting"))
    assert waiting is not None and waiting.user_id == WAITING and waiting.route == "sealed"


async def test_big_tables_are_purged_in_batches(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    monkeypatch.setattr(retention, "MESSAGES_BATCH", 2)
    async with sessions() as session, session.begin():
        people = [user(f"{n:064d}", ago(days=100)) for n in range(7)]
        session.add_all(people)
        await session.flush()
        old = [message(p.id, ago(days=100)) for p in people]
        session.add_all(old)
        await session.flush()
        session.add_all(
            FeedbackDB(user_id=m.user_id, message_id=m.id, content_id="x", helpful=True)
            for m in old
        )
        session.add_all(
            ChannelMessageDB(user_id=p.id, message_id=n, created_at=ago(days=3))
            for n, p in enumerate(people)
        )
    report = await purge(sessions, retention_days=DAYS, now=NOW)
    assert (report.messages, report.feedback, report.users, report.channel_messages) == (7, 7, 7, 7)
    assert await ids(sessions, UserDB.id) == []


async def test_two_purges_at_once_delete_each_row_once(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 1)
    monkeypatch.setattr(retention, "MESSAGES_BATCH", 1)
    kept = await seed(sessions)
    reports = await asyncio.gather(
        purge(sessions, retention_days=DAYS, now=NOW), purge(sessions, retention_days=DAYS, now=NOW)
    )
    assert _sum(reports) == EXPECTED
    await check_what_is_left(sessions, kept)


def test_ended_web_chats_are_kept_as_long_as_a_chat_token_lives() -> None:
    assert retention.ENDED_CHATS_FOR == IDLE


async def test_retention_must_be_at_least_a_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await purge(sessions, retention_days=0, now=NOW)


def _sum(reports: list[PurgeReport]) -> dict[str, int]:
    return {k: sum(r.counts()[k] for r in reports) for k in EXPECTED}


# PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
async def pg_factories(postgres_url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """A migrated database and two engines, as two bot processes would have."""
    await upgrade(postgres_url)
    engines = [create_engine(postgres_url) for _ in range(2)]
    yield [session_factory(e) for e in engines]
    for engine in engines:
        await engine.dispose()


@pytest.mark.postgres
async def test_purge_on_postgresql(pg_factories: list[async_sessionmaker[AsyncSession]]) -> None:
    sessions = pg_factories[0]
    kept = await seed(sessions)
    report = await purge(sessions, retention_days=DAYS, now=NOW)
    assert report.counts() == EXPECTED
    await check_what_is_left(sessions, kept)


@pytest.mark.postgres
async def test_two_processes_purging_at_once_on_postgresql(
    pg_factories: list[async_sessionmaker[AsyncSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 1)
    monkeypatch.setattr(retention, "MESSAGES_BATCH", 1)
    first, second = pg_factories
    kept = await seed(first)
    reports = await asyncio.gather(
        purge(first, retention_days=DAYS, now=NOW), purge(second, retention_days=DAYS, now=NOW)
    )
    assert _sum(reports) == EXPECTED
    await check_what_is_left(first, kept)
