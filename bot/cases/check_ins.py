"""Check-ins: a case held out of the queue while the bot waits for the answer to "are you safe?".

A possible crisis gets a check-in question. Its case is kept with status `check_in`, invisible to
the queue and to alerts, holding only the sealed route back to the young person. "Yes" puts it in
the queue as urgent; no answer (another message, or silence past the wait) as normal; "No, I'm
okay" deletes it. Keyword-only functions on an open session; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.repository import MAX_MATCHED, MAX_ROUTE
from bot.db.models import CaseDB, utcnow
from bot.db.repository import affected_rows

CHECK_IN = "check_in"


async def check_in_of(*, session: AsyncSession, user_id: str) -> CaseDB | None:
    """The young person's pending check-in, if any."""
    return await session.scalar(
        select(CaseDB)
        .where(CaseDB.user_id == user_id, CaseDB.status == CHECK_IN)
        .order_by(CaseDB.id.desc())
        .limit(1)
    )


async def open_check_in(
    *,
    session: AsyncSession,
    user_id: str,
    channel: str,
    language: str,
    category: str | None,
    matched: str | None,
    route: str | None,
) -> CaseDB:
    """Hold a check-in case (or refresh the pending one): out of the queue until it is answered."""
    if route is not None and len(route) > MAX_ROUTE:
        raise ValueError(f"route longer than {MAX_ROUTE} characters")
    case = await check_in_of(session=session, user_id=user_id)
    if case is None:
        case = CaseDB(
            user_id=user_id,
            channel=channel,
            language=language,
            source=CHECK_IN,
            priority="normal",
            status=CHECK_IN,
            opened_at=utcnow(),
        )
        session.add(case)
    case.category = category
    case.matched = matched[:MAX_MATCHED] if matched else None
    case.route = route
    await session.flush()
    return case


async def queue_check_in(
    *, session: AsyncSession, case_id: int, priority: str, now: datetime | None = None
) -> bool:
    """Put a pending check-in in the queue (it is alerted like a new case); False if it is gone."""
    statement = (
        update(CaseDB)
        .where(CaseDB.id == case_id, CaseDB.status == CHECK_IN)
        .values(status="waiting", priority=priority, opened_at=now or utcnow(), alerted_at=None)
    )
    return await affected_rows(session, statement, synchronize=True) > 0


async def drop_check_in(*, session: AsyncSession, user_id: str) -> bool:
    """Delete the pending check-in ("No, I'm okay"): it holds nothing worth keeping."""
    statement = delete(CaseDB).where(CaseDB.user_id == user_id, CaseDB.status == CHECK_IN)
    return await affected_rows(session, statement, synchronize=True) > 0


async def unanswered_check_ins(*, session: AsyncSession, before: datetime) -> list[CaseDB]:
    """Check-ins opened before `before` and still pending."""
    return list(
        await session.scalars(
            select(CaseDB)
            .where(CaseDB.status == CHECK_IN, CaseDB.opened_at < before)
            .order_by(CaseDB.id)
        )
    )
