"""The case queue and the counsellors' roster, as keyword-only functions on an open session.

None of them commits: the caller owns the transaction. Claims, transfers, closes and ratings are
conditional UPDATEs checked by their row count, so two bot processes (or two taps) can never hand
one case to two counsellors, nor two cases to one counsellor. On PostgreSQL this relies on the
default READ COMMITTED isolation; SQLite serialises writers.

Functions that change a case reload it, so a `CaseDB` the caller already holds shows the new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, delete, exists, func, select, update
from sqlalchemy import case as case_when
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Update

from bot.db.models import (
    AuditDB,
    CaseDB,
    CaseMessageDB,
    CaseNoteDB,
    CounsellorDB,
    MessageDB,
    utcnow,
)

PRIORITIES = ("urgent", "high", "normal")
OPEN = ("waiting", "active")
SENDERS = ("young", "counsellor")
RATINGS = range(1, 6)
MAX_MATCHED = 200
MAX_NOTE = 2000
MAX_RESOLUTION = 500
MAX_ROUTE = 512
MAX_NAME = 80
CLAIM_PASSES = 3  # claim_next re-reads the queue this often when every candidate was taken
# A case nobody took for this long is closed as expired. Counsellors' hours are a daily window, so
# a day spans a whole shift whenever the case was opened (a request made at closing time is seen
# the next morning); a young person still waiting after that is better served by a 24-hour
# helpline and a fresh request than by a silent queue that keeps their address.
WAIT_LIMIT = timedelta(hours=24)
EXPIRED_RESOLUTION = (
    "expired: no counsellor took it within 24 hours; the young person was sent the 24-hour "
    "helplines and how to ask again"
)
EXPIRE_BATCH = 100

_RANK = case_when(
    {priority: rank for rank, priority in enumerate(PRIORITIES)},
    value=CaseDB.priority,
    else_=len(PRIORITIES),
)
QUEUE_ORDER = (_RANK, CaseDB.opened_at, CaseDB.id)


# cases: the young person's side ---------------------------------------------------------------


async def open_case(
    *,
    session: AsyncSession,
    user_id: str,
    channel: str,
    language: str,
    source: str,
    priority: str,
    topic: str | None = None,
    category: str | None = None,
    matched: str | None = None,
    route: str | None = None,
) -> tuple[CaseDB, bool]:
    """Open a waiting case, or update the person's open one; return (case, created).

    One open case per young person: an open case takes the higher of the two priorities (and,
    while waiting, is alerted again at once), keeps its category, topic and matched rule or fills
    them when empty, takes a new route, and records the time of a new crisis.
    """
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    if route is not None and len(route) > MAX_ROUTE:
        raise ValueError(f"route longer than {MAX_ROUTE} characters")
    now = utcnow()
    matched = matched[:MAX_MATCHED] if matched else None
    case = await open_case_of(session=session, user_id=user_id)
    if case is not None:
        if _rank(priority) < _rank(case.priority):
            case.priority = priority
            if case.status == "waiting":
                case.alerted_at = None
        case.category = case.category or category
        case.topic = case.topic or topic
        case.matched = case.matched or matched
        if route is not None:
            case.route = route
        if source == "crisis":
            case.last_crisis_at = now
        await session.flush()
        return case, False
    case = CaseDB(
        user_id=user_id,
        channel=channel,
        language=language,
        source=source,
        priority=priority,
        topic=topic,
        category=category,
        matched=matched,
        route=route,
        status="waiting",
        opened_at=now,
        last_crisis_at=now if source == "crisis" else None,
    )
    session.add(case)
    await session.flush()
    return case, True


async def open_case_of(*, session: AsyncSession, user_id: str) -> CaseDB | None:
    """The young person's waiting or active case, if any."""
    return await session.scalar(
        select(CaseDB)
        .where(CaseDB.user_id == user_id, CaseDB.status.in_(OPEN))
        .order_by(CaseDB.id.desc())
        .limit(1)
    )


async def active_case_of_user(*, session: AsyncSession, user_id: str) -> CaseDB | None:
    """The young person's case a counsellor has taken, if any."""
    return await session.scalar(
        select(CaseDB)
        .where(CaseDB.user_id == user_id, CaseDB.status == "active")
        .order_by(CaseDB.id.desc())
        .limit(1)
    )


async def rate_case(*, session: AsyncSession, case_id: int, user_id: str, rating: int) -> bool:
    """Record the young person's 1-5 rating of their closed case, once; forget its route."""
    if rating not in RATINGS:
        return False
    rated = await _update(
        session,
        update(CaseDB)
        .where(
            CaseDB.id == case_id,
            CaseDB.user_id == user_id,
            CaseDB.status == "closed",
            CaseDB.rating.is_(None),
        )
        .values(rating=rating, route=None),
    )
    if rated:
        await _reload(session, case_id)
    return rated


async def forget_route(*, session: AsyncSession, case_id: int) -> None:
    """Drop the sealed address of a case (when no rating will come)."""
    await _update(session, update(CaseDB).where(CaseDB.id == case_id).values(route=None))
    await _reload(session, case_id)


# the queue ------------------------------------------------------------------------------------


async def waiting_cases(*, session: AsyncSession) -> list[CaseDB]:
    """Waiting cases, most urgent first, then longest waiting."""
    return list(
        await session.scalars(
            select(CaseDB).where(CaseDB.status == "waiting").order_by(*QUEUE_ORDER)
        )
    )


async def queue_position(*, session: AsyncSession, case: CaseDB) -> int:
    """The case's 1-based place among the waiting cases; 0 when it is not waiting."""
    ids = list(await session.scalars(_waiting_ids()))
    return ids.index(case.id) + 1 if case.id in ids else 0


async def cases_to_alert(
    *, session: AsyncSession, now: datetime, realert_after: timedelta
) -> list[CaseDB]:
    """Waiting cases never alerted, or alerted longer than `realert_after` ago, in queue order.

    The rows stay locked until the transaction ends, and rows another process has locked are
    skipped (PostgreSQL), so two bot processes never alert about the same case twice.
    """
    before = _utc(now) - realert_after
    return list(
        await session.scalars(
            select(CaseDB)
            .where(
                CaseDB.status == "waiting",
                CaseDB.alerted_at.is_(None) | (CaseDB.alerted_at < before),
            )
            .order_by(*QUEUE_ORDER)
            .with_for_update(skip_locked=True)
        )
    )


async def mark_alerted(*, session: AsyncSession, case_ids: Sequence[int], now: datetime) -> None:
    """Record that counsellors were alerted about these cases at `now`."""
    if case_ids:
        await session.execute(
            update(CaseDB).where(CaseDB.id.in_(case_ids)).values(alerted_at=_utc(now))
        )


def _waiting_since() -> ColumnElement[datetime]:
    """Since when a waiting case has waited: its opening, or a counsellor's first reply (a case
    handed back to the queue keeps its place, but one a counsellor answered is not "unanswered")."""
    return func.coalesce(CaseDB.first_reply_at, CaseDB.opened_at)


async def stale_waiting(*, session: AsyncSession, before: datetime) -> list[int]:
    """Ids of cases waiting since before `before` (EXPIRE_BATCH at most), longest waiting first."""
    return list(
        await session.scalars(
            select(CaseDB.id)
            .where(CaseDB.status == "waiting", _waiting_since() < _utc(before))
            .order_by(CaseDB.opened_at, CaseDB.id)
            .limit(EXPIRE_BATCH)
        )
    )


async def expire_case(
    *, session: AsyncSession, case_id: int, before: datetime
) -> tuple[CaseDB, str | None] | None:
    """Close a case still waiting since before `before` as expired; (case, its sealed route).

    One conditional UPDATE, like a claim: a case a counsellor takes at the same moment is either
    claimed or expired, never both (None when it is no longer waiting). The route is cleared in
    the same transaction (no rating is asked) and handed back once, for the goodbye message. The
    audit log says why it left the queue.
    """
    now = utcnow()
    result = await session.execute(
        update(CaseDB)
        .where(CaseDB.id == case_id, CaseDB.status == "waiting", _waiting_since() < _utc(before))
        .values(status="closed", closed_at=now, resolution=EXPIRED_RESOLUTION)
        .returning(CaseDB.route),
        execution_options={"synchronize_session": False},
    )
    row = result.first()
    if row is None:
        return None
    # the row is this transaction's now (locked on PostgreSQL; SQLite has one writer)
    await session.execute(
        update(CaseDB).where(CaseDB.id == case_id).values(route=None),
        execution_options={"synchronize_session": False},
    )
    session.add(
        AuditDB(
            at=now,
            actor="system",
            action="case.expire",
            target=f"case {case_id}",
            detail="waited over 24 hours; closed unanswered",
        )
    )
    await session.execute(delete(CaseMessageDB).where(CaseMessageDB.case_id == case_id))
    case = await _reload(session, case_id)
    assert case is not None
    return case, row[0]


async def recently_expired(*, session: AsyncSession, since: datetime) -> list[CaseDB]:
    """Cases closed as expired since `since`, newest first (the inbox shows them)."""
    return list(
        await session.scalars(
            select(CaseDB)
            .where(
                CaseDB.status == "closed",
                CaseDB.resolution == EXPIRED_RESOLUTION,
                CaseDB.closed_at >= _utc(since),
            )
            .order_by(CaseDB.closed_at.desc(), CaseDB.id.desc())
        )
    )


# the counsellor's side ------------------------------------------------------------------------


async def claim(*, session: AsyncSession, case_id: int, counsellor_id: int) -> CaseDB | None:
    """Take this waiting case; None if it is gone or taken, or the counsellor already has one."""
    if not await _lock_counsellor(session, counsellor_id):
        return None
    if not await _take(session, case_id, counsellor_id):
        return None
    return await _reload(session, case_id)


async def claim_next(*, session: AsyncSession, counsellor_id: int) -> CaseDB | None:
    """Take the first waiting case in queue order, skipping any another counsellor takes first.

    None when nothing is waiting or the counsellor already has an active case.
    """
    if not await _lock_counsellor(session, counsellor_id):
        return None
    if await active_case_of_counsellor(session=session, counsellor_id=counsellor_id):
        return None
    for _ in range(CLAIM_PASSES):
        candidates = list(await session.scalars(_waiting_ids()))
        if not candidates:
            return None
        for case_id in candidates:
            if await _take(session, case_id, counsellor_id):
                return await _reload(session, case_id)
    return None


async def active_case_of_counsellor(*, session: AsyncSession, counsellor_id: int) -> CaseDB | None:
    """The case this counsellor has taken and not yet closed or transferred."""
    return await session.scalar(
        select(CaseDB)
        .where(CaseDB.counsellor_id == counsellor_id, CaseDB.status == "active")
        .order_by(CaseDB.id)
        .limit(1)
    )


async def add_transcript(
    *, session: AsyncSession, case_id: int, sender: str, text: str
) -> CaseMessageDB | None:
    """Keep one relayed message of an open case (None if the case is not open).

    The counsellor's first message sets the case's `first_reply_at`.
    """
    if sender not in SENDERS:
        raise ValueError(f"unknown sender {sender!r}")
    case = await _reload(session, case_id)
    if case is None or case.status not in OPEN:
        return None
    now = utcnow()
    message = CaseMessageDB(case_id=case_id, sender=sender, text=text, created_at=now)
    session.add(message)
    if sender == "counsellor" and case.first_reply_at is None:
        case.first_reply_at = now
    await session.flush()
    return message


async def transcript(*, session: AsyncSession, case_id: int) -> list[CaseMessageDB]:
    """The messages of an open case, oldest first (empty once it is closed)."""
    return list(
        await session.scalars(
            select(CaseMessageDB).where(CaseMessageDB.case_id == case_id).order_by(CaseMessageDB.id)
        )
    )


async def recent_answers(*, session: AsyncSession, user_id: str, limit: int = 5) -> list[str]:
    """The intents the bot last answered this young person with, newest first, no repeats."""
    intents = await session.scalars(
        select(MessageDB.intent)
        .where(MessageDB.user_id == user_id, MessageDB.direction == "out")
        .order_by(MessageDB.id.desc())
        .limit(limit)
    )
    return list(dict.fromkeys(i for i in intents if i))


async def add_note(
    *, session: AsyncSession, case_id: int, counsellor_id: int, text: str
) -> CaseNoteDB | None:
    """Add a counsellor's note (cut to 2000 characters) to a case; None if there is no such case."""
    if not text.strip():
        raise ValueError("empty note")
    if await session.get(CaseDB, case_id) is None:
        return None
    note = CaseNoteDB(
        case_id=case_id, counsellor_id=counsellor_id, text=text[:MAX_NOTE], created_at=utcnow()
    )
    session.add(note)
    await session.flush()
    return note


async def notes(*, session: AsyncSession, case_id: int) -> list[CaseNoteDB]:
    """A case's notes, oldest first."""
    return list(
        await session.scalars(
            select(CaseNoteDB).where(CaseNoteDB.case_id == case_id).order_by(CaseNoteDB.id)
        )
    )


async def transfer(*, session: AsyncSession, case_id: int, counsellor_id: int) -> bool:
    """Put the counsellor's active case back in the queue, keeping its place (opened_at)."""
    moved = await _update(
        session,
        update(CaseDB)
        .where(
            CaseDB.id == case_id, CaseDB.counsellor_id == counsellor_id, CaseDB.status == "active"
        )
        .values(status="waiting", counsellor_id=None, claimed_at=None, alerted_at=None),
    )
    if moved:
        await _reload(session, case_id)
    return moved


async def close_case(
    *, session: AsyncSession, case_id: int, counsellor_id: int, resolution: str
) -> CaseDB | None:
    """Close the counsellor's active case and delete its transcript; None if it is not theirs.

    The sealed route stays until the young person rates the chat (or `forget_route`), for a day
    at most (the retention purge clears it then).
    """
    closed = await _update(
        session,
        update(CaseDB)
        .where(
            CaseDB.id == case_id, CaseDB.counsellor_id == counsellor_id, CaseDB.status == "active"
        )
        .values(status="closed", closed_at=utcnow(), resolution=resolution[:MAX_RESOLUTION]),
    )
    if not closed:
        return None
    await session.execute(delete(CaseMessageDB).where(CaseMessageDB.case_id == case_id))
    return await _reload(session, case_id)


# counsellors ----------------------------------------------------------------------------------


async def add_counsellor(*, session: AsyncSession, telegram_id: int, name: str) -> CounsellorDB:
    """Register a counsellor by Telegram user id; adding the same id again updates the name."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"a counsellor's name needs 1 to {MAX_NAME} characters")
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(CounsellorDB)
        .values(telegram_id=telegram_id, name=name, on_duty=False, created_at=utcnow())
        .on_conflict_do_update(index_elements=[CounsellorDB.telegram_id], set_={"name": name})
    )
    counsellor = await session.scalar(
        select(CounsellorDB)
        .where(CounsellorDB.telegram_id == telegram_id)
        .execution_options(populate_existing=True)
    )
    assert counsellor is not None
    return counsellor


async def remove_counsellor(*, session: AsyncSession, telegram_id: int) -> bool:
    """Remove a counsellor; their active case goes back to the queue. False if unknown."""
    counsellor = await counsellor_by_telegram_id(session=session, telegram_id=telegram_id)
    if counsellor is None:
        return False
    await session.execute(
        update(CaseDB)
        .where(CaseDB.counsellor_id == counsellor.id, CaseDB.status == "active")
        .values(status="waiting", counsellor_id=None, claimed_at=None, alerted_at=None)
    )
    await session.delete(counsellor)
    await session.flush()
    return True


async def list_counsellors(*, session: AsyncSession) -> list[CounsellorDB]:
    """Every counsellor, in the order they were added."""
    return list(await session.scalars(select(CounsellorDB).order_by(CounsellorDB.id)))


async def counsellor_by_telegram_id(
    *, session: AsyncSession, telegram_id: int
) -> CounsellorDB | None:
    """The counsellor with this Telegram user id, if registered."""
    return await session.scalar(select(CounsellorDB).where(CounsellorDB.telegram_id == telegram_id))


async def set_duty(*, session: AsyncSession, counsellor_id: int, on_duty: bool) -> bool:
    """Go on or off duty (only counsellors on duty are alerted); False if unknown."""
    return await _update(
        session,
        update(CounsellorDB).where(CounsellorDB.id == counsellor_id).values(on_duty=on_duty),
        synchronize=True,
    )


async def counsellors_on_duty(*, session: AsyncSession) -> list[CounsellorDB]:
    """The counsellors to alert about waiting cases."""
    return list(
        await session.scalars(
            select(CounsellorDB).where(CounsellorDB.on_duty.is_(True)).order_by(CounsellorDB.id)
        )
    )


# helpers --------------------------------------------------------------------------------------


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


def _utc(moment: datetime) -> datetime:
    """Aware times in UTC (SQLite stores them without an offset and compares them as text)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def _waiting_ids() -> Select[int]:
    return select(CaseDB.id).where(CaseDB.status == "waiting").order_by(*QUEUE_ORDER)


async def _update(session: AsyncSession, statement: Update, *, synchronize: bool = False) -> bool:
    """Run an UPDATE; True when it changed at least one row."""
    result = await session.execute(
        statement, execution_options={"synchronize_session": "auto" if synchronize else False}
    )
    return cast("CursorResult[Any]", result).rowcount > 0


async def _reload(session: AsyncSession, case_id: int) -> CaseDB | None:
    """The case as the database has it now (refreshing the caller's object too)."""
    await session.flush()
    return await session.get(CaseDB, case_id, populate_existing=True)


async def _lock_counsellor(session: AsyncSession, counsellor_id: int) -> bool:
    """Lock the counsellor's row (PostgreSQL) so their claims queue up; False if unknown."""
    found = await session.scalar(
        select(CounsellorDB.id).where(CounsellorDB.id == counsellor_id).with_for_update()
    )
    return found is not None


async def _take(session: AsyncSession, case_id: int, counsellor_id: int) -> bool:
    """The atomic claim: waiting -> active, only if the counsellor has no active case."""
    mine = aliased(CaseDB)
    free: ColumnElement[bool] = ~exists().where(
        mine.counsellor_id == counsellor_id, mine.status == "active"
    )
    return await _update(
        session,
        update(CaseDB)
        .where(CaseDB.id == case_id, CaseDB.status == "waiting", free)
        .values(status="active", counsellor_id=counsellor_id, claimed_at=utcnow()),
    )
