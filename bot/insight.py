"""Figures for the Insight dashboard: what young people ask, what helps, and how fast cases move.

Keyword-only async functions on an open session, each returning small dataclasses. Every count is
computed in SQL that runs on SQLite and PostgreSQL alike; only the percentiles of case times are
computed here, from the fetched durations. Nothing returned names a young person: no user ids, no
case ids, no message text except the scrubbed, unlinked unanswered questions, and no time finer
than the day. Days are calendar days in Kenya (EAT, UTC+3 all year).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, distinct, func, select
from sqlalchemy import case as case_when
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.cases.repository import PRIORITIES
from bot.db.models import CaseDB, FeedbackDB, MessageDB, ReferralSearchDB, UnansweredDB
from bot.dialogue.counsellor import NAIROBI
from bot.dialogue.engine import DEFAULT_THRESHOLD
from nlu.parser import CRISIS_CATEGORIES

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
TOP_INTENTS = 10
EXAMPLES = 5
SMALL = 5  # counts below this are shown as "<5" where they could point at a person
_OFFSET_MINUTES = int((NAIROBI.utcoffset(None) or timedelta()).total_seconds() // 60)


# a calendar day in Kenya, in SQL ----------------------------------------------------------------


class LocalDay(FunctionElement[str]):
    """`YYYY-MM-DD` of a UTC timestamp in Kenyan time, on SQLite and PostgreSQL."""

    type = String()
    name = "local_day"
    inherit_cache = True


@compiles(LocalDay, "sqlite")
def _local_day_sqlite(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores SQLite timestamps as UTC text, which date() reads
    return f"date({compiler.process(element.clauses, **kw)}, '{_OFFSET_MINUTES:+d} minutes')"


@compiles(LocalDay, "postgresql")
def _local_day_postgresql(element: LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    shifted = f"({moment} AT TIME ZONE 'UTC') + INTERVAL '{_OFFSET_MINUTES} minutes'"
    return f"to_char({shifted}, 'YYYY-MM-DD')"


# what the functions return ----------------------------------------------------------------------


def shown(count: int) -> str:
    """A count as the page shows it where small numbers are hidden: 1-4 become "<5"."""
    return f"<{SMALL}" if 0 < count < SMALL else str(count)


@dataclass(frozen=True)
class DayMessages:
    """Inbound messages on one day, and how many different people sent them."""

    day: date
    messages: int
    users: int


@dataclass(frozen=True)
class DayCount:
    """A count for one day."""

    day: date
    count: int

    @property
    def shown(self) -> str:
        """The count with small numbers hidden."""
        return shown(self.count)


@dataclass(frozen=True)
class Count:
    """A count for one name (an intent, a county, a service, a category)."""

    name: str
    count: int

    @property
    def shown(self) -> str:
        """The count with small numbers hidden."""
        return shown(self.count)


@dataclass(frozen=True)
class Example:
    """One scrubbed question nothing answered, with its language and day."""

    text: str
    language: str
    day: date


@dataclass(frozen=True)
class UnansweredGroup:
    """Unanswered questions with the same unsure guess (None: out of scope), newest first."""

    guess: str | None
    count: int
    examples: list[Example]


@dataclass(frozen=True)
class Helpfulness:
    """👍 and 👎 on one revision of one content item (revision None: served from the files)."""

    item: str
    revision: int | None
    helpful: int
    unhelpful: int

    @property
    def votes(self) -> int:
        """Every vote on this revision."""
        return self.helpful + self.unhelpful

    @property
    def percent(self) -> int:
        """The share of 👍, as a whole percentage."""
        return round(100 * self.helpful / self.votes) if self.votes else 0


@dataclass(frozen=True)
class Crisis:
    """Cases a crisis opened, by category and by day, and every crisis message counted."""

    by_category: list[Count]
    per_day: list[DayCount]
    messages: int


@dataclass(frozen=True)
class CaseTimes:
    """Cases of one priority opened in the period: how long they waited and were handled.

    `claimed` and `closed` say how many durations each figure is computed from.
    """

    priority: str
    cases: int
    waiting: int
    claimed: int
    median_wait: timedelta | None
    p90_wait: timedelta | None
    closed: int
    median_handling: timedelta | None


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the Insight page for the days `first` to `last` (Kenyan dates)."""

    days: int
    first: date
    last: date
    messages: list[DayMessages]
    intents: list[Count]
    unanswered: list[UnansweredGroup]
    helpfulness: list[Helpfulness]
    crisis: Crisis
    counties: list[Count]
    services: list[Count]
    case_times: list[CaseTimes]


# the period -------------------------------------------------------------------------------------


def period(value: str | int | None) -> int:
    """The number of days asked for: 7, 30 or 90; anything else is 30."""
    try:
        days = int(value) if value is not None else DEFAULT_PERIOD
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def first_day(*, days: int, now: datetime) -> date:
    """The first Kenyan day of a period of `days` days ending today."""
    return now.astimezone(NAIROBI).date() - timedelta(days=days - 1)


def start_of(day: date) -> datetime:
    """Midnight at the start of a Kenyan day, in UTC (how timestamps are stored)."""
    return datetime.combine(day, time(0), NAIROBI).astimezone(UTC)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# the figures ------------------------------------------------------------------------------------


async def messages_per_day(*, session: AsyncSession, first: date, last: date) -> list[DayMessages]:
    """Inbound messages and distinct people per day, every day from `first` to `last`."""
    day = LocalDay(MessageDB.created_at)
    rows = await session.execute(
        select(day, func.count(), func.count(distinct(MessageDB.user_id)))
        .where(MessageDB.direction == "in", MessageDB.created_at >= start_of(first))
        .group_by(day)
    )
    found = {date.fromisoformat(d): (m, u) for d, m, u in rows}
    return [DayMessages(d, *found.get(d, (0, 0))) for d in _days(first, last)]


async def top_intents(
    *, session: AsyncSession, first: date, limit: int = TOP_INTENTS
) -> list[Count]:
    """The intents most often understood with confidence (at the engine's threshold or above)."""
    count = func.count()
    rows = await session.execute(
        select(MessageDB.intent, count)
        .where(
            MessageDB.direction == "in",
            MessageDB.created_at >= start_of(first),
            MessageDB.intent.is_not(None),
            MessageDB.confidence >= DEFAULT_THRESHOLD,
        )
        .group_by(MessageDB.intent)
        .order_by(count.desc(), MessageDB.intent)
        .limit(limit)
    )
    return [Count(str(name), n) for name, n in rows]


async def unanswered(
    *, session: AsyncSession, first: date, examples: int = EXAMPLES
) -> list[UnansweredGroup]:
    """Questions nothing answered, grouped by the parser's guess, with examples of the latest days
    (in text order within a day: these rows keep no time).

    Largest group first; the out-of-scope group (no guess) last among equals.
    """
    recent = UnansweredDB.day >= first
    count = func.count()
    groups = list(
        await session.execute(
            select(UnansweredDB.guess, count)
            .where(recent)
            .group_by(UnansweredDB.guess)
            .order_by(count.desc(), UnansweredDB.guess.is_(None), UnansweredDB.guess)
        )
    )
    rank = (
        func.row_number()
        .over(
            partition_by=UnansweredDB.guess,
            order_by=(UnansweredDB.day.desc(), UnansweredDB.text),
        )
        .label("rank")
    )
    ranked = (
        select(
            UnansweredDB.guess,
            UnansweredDB.text,
            UnansweredDB.language,
            UnansweredDB.day,
            rank,
        )
        .where(recent)
        .subquery()
    )
    found: dict[str | None, list[Example]] = defaultdict(list)
    for row in await session.execute(
        select(ranked.c.guess, ranked.c.text, ranked.c.language, ranked.c.day)
        .where(ranked.c.rank <= examples)
        .order_by(ranked.c.rank)
    ):
        day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        example = Example(str(row.text), str(row.language), day)
        found[None if row.guess is None else str(row.guess)].append(example)
    return [UnansweredGroup(guess, n, found[guess]) for guess, n in groups]


async def helpfulness(*, session: AsyncSession, first: date) -> list[Helpfulness]:
    """👍 / 👎 per content item and revision answered, most votes first."""
    helpful = func.sum(case_when((FeedbackDB.helpful, 1), else_=0))
    votes = func.count()
    rows = await session.execute(
        select(MessageDB.content_id, MessageDB.content_revision, helpful, votes)
        .join(MessageDB, MessageDB.id == FeedbackDB.message_id)
        .where(FeedbackDB.created_at >= start_of(first), MessageDB.content_id.is_not(None))
        .group_by(MessageDB.content_id, MessageDB.content_revision)
        .order_by(
            votes.desc(),
            MessageDB.content_id,
            MessageDB.content_revision.is_(None),
            MessageDB.content_revision.desc(),
        )
    )
    return [
        Helpfulness(str(item), revision, int(up), n - int(up)) for item, revision, up, n in rows
    ]


async def crisis(*, session: AsyncSession, first: date, last: date) -> Crisis:
    """Cases opened by a crisis, per category (every category, fixed order) and per day."""
    since = start_of(first)
    opened = (CaseDB.source == "crisis", CaseDB.opened_at >= since)
    by_category = dict(
        (category or "unknown", n)
        for category, n in await session.execute(
            select(CaseDB.category, func.count()).where(*opened).group_by(CaseDB.category)
        )
    )
    names = [*CRISIS_CATEGORIES, *sorted(set(by_category) - set(CRISIS_CATEGORIES))]
    day = LocalDay(CaseDB.opened_at)
    per_day = {
        date.fromisoformat(d): n
        for d, n in await session.execute(select(day, func.count()).where(*opened).group_by(day))
    }
    messages = await session.scalar(
        select(func.count()).where(MessageDB.kind == "crisis", MessageDB.created_at >= since)
    )
    return Crisis(
        [Count(name, by_category.get(name, 0)) for name in names],
        [DayCount(d, per_day.get(d, 0)) for d in _days(first, last)],
        int(messages or 0),
    )


async def referrals_by_county(*, session: AsyncSession, first: date) -> list[Count]:
    """Referrals given (a service searched near a place) per county; no county is "unknown"."""
    return await _referrals(session, first, ReferralSearchDB.county)


async def referrals_by_service(*, session: AsyncSession, first: date) -> list[Count]:
    """Referrals given per service searched for."""
    return await _referrals(session, first, ReferralSearchDB.service)


async def _referrals(
    session: AsyncSession, first: date, by: InstrumentedAttribute[str | None]
) -> list[Count]:
    """Largest first; counts below five sorted by name, so their order says nothing."""
    rows = await session.execute(
        select(by, func.count()).where(ReferralSearchDB.day >= first).group_by(by)
    )
    counts = [Count(name if name is not None else "unknown", n) for name, n in rows]
    return sorted(counts, key=lambda c: (-c.count if c.count >= SMALL else 0, c.name))


async def case_times(*, session: AsyncSession, first: date) -> list[CaseTimes]:
    """Per priority, for cases opened from `first`: count, still waiting, wait and handling.

    Waits run from opening to a counsellor's claim; handling from the claim to the close.
    """
    waiting = func.sum(case_when((CaseDB.status == "waiting", 1), else_=0))
    counts = {
        priority: (n, int(w))
        for priority, n, w in await session.execute(
            select(CaseDB.priority, func.count(), waiting)
            .where(CaseDB.opened_at >= start_of(first))
            .group_by(CaseDB.priority)
        )
    }
    waits: dict[str, list[timedelta]] = defaultdict(list)
    handling: dict[str, list[timedelta]] = defaultdict(list)
    for priority, opened, claimed, closed in await session.execute(
        select(CaseDB.priority, CaseDB.opened_at, CaseDB.claimed_at, CaseDB.closed_at).where(
            CaseDB.opened_at >= start_of(first), CaseDB.claimed_at.is_not(None)
        )
    ):
        assert claimed is not None  # the WHERE says so
        waits[priority].append(claimed - opened)
        if closed is not None:
            handling[priority].append(closed - claimed)
    names = [*PRIORITIES, *sorted(set(counts) - set(PRIORITIES))]
    return [
        CaseTimes(
            priority=name,
            cases=counts.get(name, (0, 0))[0],
            waiting=counts.get(name, (0, 0))[1],
            claimed=len(waits[name]),
            median_wait=percentile(waits[name], 0.5),
            p90_wait=percentile(waits[name], 0.9),
            closed=len(handling[name]),
            median_handling=percentile(handling[name], 0.5),
        )
        for name in names
    ]


def percentile(values: Iterable[timedelta], fraction: float) -> timedelta | None:
    """The `fraction` quantile, interpolated between the nearest two (None when there are none).

    The same definition as PostgreSQL's percentile_cont and numpy's default, so 0.5 is the median.
    """
    ordered: Sequence[timedelta] = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def dashboard(*, session: AsyncSession, days: int, now: datetime) -> Dashboard:
    """Every figure for the `days` Kenyan days up to and including today."""
    first, last = first_day(days=days, now=now), now.astimezone(NAIROBI).date()
    return Dashboard(
        days=days,
        first=first,
        last=last,
        messages=await messages_per_day(session=session, first=first, last=last),
        intents=await top_intents(session=session, first=first),
        unanswered=await unanswered(session=session, first=first),
        helpfulness=await helpfulness(session=session, first=first),
        crisis=await crisis(session=session, first=first, last=last),
        counties=await referrals_by_county(session=session, first=first),
        services=await referrals_by_service(session=session, first=first),
        case_times=await case_times(session=session, first=first),
    )
