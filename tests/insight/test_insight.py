"""The Insight figures, computed in SQL, on SQLite and PostgreSQL from the same known rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.insight import (
    CaseTimes,
    Dashboard,
    dashboard,
    first_day,
    percentile,
    period,
    shown,
    start_of,
    top_intents,
)
from tests.insight import seed as expected
from tests.insight.seed import seed

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi
FIRST = date(2026, 11, 24)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A fresh SQLite database, and a fresh PostgreSQL one (failing when PostgreSQL is down)."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def seeded(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The known rows in each database."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await seed(session, first=FIRST)
    yield sessions
    await engine.dispose()


async def board(sessions: async_sessionmaker[AsyncSession], days: int = 7) -> Dashboard:
    async with sessions() as session:
        return await dashboard(session=session, days=days, now=NOW)


def minutes(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


def test_the_period_is_whole_kenyan_days_ending_today() -> None:
    assert first_day(days=7, now=NOW) == FIRST
    assert start_of(FIRST) == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    late_evening_utc = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # 01:00 on 1 December in Kenya
    assert first_day(days=7, now=late_evening_utc) == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("asked", "days"),
    [("7", 7), ("30", 30), ("90", 90), (None, 30), ("365", 30), ("abc", 30), ("-7", 30), (90, 90)],
)
def test_a_bad_period_falls_back_to_30_days(asked: str | int | None, days: int) -> None:
    assert period(asked) == days


@pytest.mark.parametrize(("count", "text"), [(0, "0"), (1, "<5"), (4, "<5"), (5, "5"), (12, "12")])
def test_small_counts_are_hidden(count: int, text: str) -> None:
    assert shown(count) == text


def test_percentiles_interpolate_like_percentile_cont() -> None:
    values = [timedelta(minutes=m) for m in (20, 1, 3, 10, 2, 4)]
    assert percentile(values, 0.5) == timedelta(minutes=3.5)
    assert percentile(values, 0.9) == timedelta(minutes=15)
    assert percentile(values[:1], 0.9) == timedelta(minutes=20)
    assert percentile([], 0.5) is None


async def test_messages_per_day_in_kenyan_days(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    figures = await board(seeded)
    assert (figures.first, figures.last) == (FIRST, date(2026, 11, 30))
    assert [(m.day, m.messages, m.users) for m in figures.messages] == [
        (FIRST + timedelta(days=d), *expected.MESSAGES.get(d, (0, 0))) for d in range(7)
    ]


async def test_top_intents_are_confident_inbound_ones(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    figures = await board(seeded)
    assert [(c.name, c.count) for c in figures.intents] == expected.INTENTS
    async with seeded() as session:
        top = await top_intents(session=session, first=FIRST, limit=2)
    assert [c.name for c in top] == ["condoms", "alcohol"]


async def test_unanswered_questions_grouped_by_guess_with_examples_of_the_latest_days(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    groups = (await board(seeded)).unanswered
    assert [(g.guess, g.count) for g in groups] == expected.UNANSWERED
    condoms, prep, out_of_scope = groups
    assert [e.text for e in condoms.examples] == [
        f"the {word} condom question" for word in expected.CONDOM_EXAMPLES
    ]
    assert [e.text for e in prep.examples] == ["is prep safe", "prep for a week"]
    assert [(e.text, e.language, e.day) for e in out_of_scope.examples] == [
        (expected.SCRIPT, "en", date(2026, 11, 30)),
        ("what is the weather", "en", date(2026, 11, 27)),
    ]


async def test_helpfulness_per_content_revision(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    rows = (await board(seeded)).helpfulness
    assert [(r.item, r.revision, r.helpful, r.unhelpful) for r in rows] == expected.HELPFULNESS
    assert [(r.votes, r.percent) for r in rows] == [(3, 67), (2, 0), (2, 50), (1, 100)]


async def test_crisis_cases_by_category_and_day(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    crisis = (await board(seeded)).crisis
    assert [(c.name, c.count) for c in crisis.by_category] == expected.CRISIS_BY_CATEGORY
    assert [c.shown for c in crisis.by_category] == ["6", "<5", "0", "<5", "0", "0", "0"]
    assert [(d.day, d.count) for d in crisis.per_day] == [
        (FIRST + timedelta(days=d), expected.CRISIS_PER_DAY.get(d, 0)) for d in range(7)
    ]
    assert crisis.messages == expected.CRISIS_MESSAGES


async def test_referrals_by_county_and_service_hide_small_counts(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    figures = await board(seeded)
    assert [(c.name, c.count) for c in figures.counties] == expected.COUNTIES
    assert [c.shown for c in figures.counties] == ["6", "<5", "<5", "<5"]
    assert [(c.name, c.count) for c in figures.services] == expected.SERVICES


async def test_case_waiting_and_handling_times_per_priority(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    rows = (await board(seeded)).case_times

    def summary(row: CaseTimes) -> tuple[object, ...]:
        return (
            row.cases,
            row.waiting,
            row.claimed,
            minutes(row.median_wait),
            minutes(row.p90_wait),
            row.closed,
            minutes(row.median_handling),
        )

    assert {row.priority: summary(row) for row in rows} == expected.CASE_TIMES
    assert [row.priority for row in rows] == ["urgent", "high", "normal"]


async def test_a_longer_period_counts_the_rows_before_the_week(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    week, month = await board(seeded, 7), await board(seeded, 30)
    assert len(month.messages) == 30 and month.first == date(2026, 11, 1)
    assert sum(m.messages for m in month.messages) == sum(m.messages for m in week.messages) + 2
    assert month.crisis.messages == expected.CRISIS_MESSAGES + 1
    assert [(g.guess, g.count) for g in month.unanswered] == [
        ("condoms", 7),
        (None, 3),
        ("prep", 2),
    ]
    assert dict((c.name, c.count) for c in month.counties)["Nairobi"] == 7
    assert month.case_times[0].cases == 10
