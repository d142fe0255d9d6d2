"""A young person's data: what is kept about them (/mydata) and erasing it (/delete).

Everything tied to their pseudonymous id goes in one transaction: their message records, feedback,
chat message ids, the users row (language, state) and the transcripts of all their cases. Cases
themselves stay, linked to nobody (no user id, no sealed address), so what counsellors wrote is
kept; an open case is closed. Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, distinct, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.check_ins import CHECK_IN
from bot.cases.repository import OPEN
from bot.db.models import (
    CaseDB,
    CaseMessageDB,
    ChannelMessageDB,
    FeedbackDB,
    MessageDB,
    UserDB,
    WebOutboxDB,
    nairobi_day,
    utcnow,
)
from bot.db.repository import affected_rows
from bot.dialogue.addresses import web_token
from bot.web.outbox import outbox_key

ERASED_RESOLUTION = "closed: the young person deleted their data (/delete)"
TOPICS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class EndedCase:
    """A case a counsellor was in the middle of when the young person erased their data."""

    case_id: int
    counsellor_id: int


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """How many rows of each kind went; which counsellors to tell; which chat messages to clear."""

    users: int
    messages: int
    feedback: int
    channel_messages: int
    case_messages: int
    cases_closed: int
    cases_unlinked: int
    web_outbox: int
    ended: tuple[EndedCase, ...]
    chat_message_ids: tuple[int, ...]  # ids in the young person's chat, for the channel to delete


@dataclass(frozen=True, slots=True)
class UserSummary:
    """What is kept about one young person right now (for /mydata): counts and days, no words."""

    language: str | None  # chosen with /language; None until they choose
    first_seen: date  # Kenyan days
    last_seen: date
    messages_in: int
    messages_out: int
    topics: tuple[str, ...]  # content ids answered, most recent first, at most TOPICS_SHOWN
    topics_total: int
    feedback: int
    cases_open: int
    cases_closed: int
    transcript: int  # relayed messages of their open case
    sealed_addresses: int  # cases still holding their (encrypted) chat address
    chat_message_ids: int


async def erase_user(
    *, session: AsyncSession, user_id: str, address: str | None, secret: str
) -> ErasureReport:
    """Erase everything tied to `user_id`; close and unlink their cases, keeping the notes.

    `address` is the chat the request came from: for a web chat (`web:<token>`) the replies
    waiting in the web outbox go too (found by their keyed hash, hence `secret`). The cases are
    unlinked before the users row goes, since its foreign key would otherwise cascade into the
    cases and their notes.
    """
    # a pending check-in holds the sealed route and nothing a counsellor wrote: it goes whole
    await affected_rows(
        session, delete(CaseDB).where(CaseDB.user_id == user_id, CaseDB.status == CHECK_IN)
    )
    closed = (
        await session.execute(
            update(CaseDB)
            .where(CaseDB.user_id == user_id, CaseDB.status.in_(OPEN))
            .values(status="closed", closed_at=utcnow(), resolution=ERASED_RESOLUTION)
            .returning(CaseDB.id, CaseDB.counsellor_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    # a waiting case has no counsellor (claims set it, transfers clear it)
    ended = tuple(EndedCase(c.id, c.counsellor_id) for c in closed if c.counsellor_id is not None)
    theirs = select(CaseDB.id).where(CaseDB.user_id == user_id).scalar_subquery()
    case_messages = await affected_rows(
        session, delete(CaseMessageDB).where(CaseMessageDB.case_id.in_(theirs))
    )
    unlinked = await affected_rows(
        session, update(CaseDB).where(CaseDB.user_id == user_id).values(user_id=None, route=None)
    )
    chat_ids = tuple(
        await session.scalars(
            select(ChannelMessageDB.message_id)
            .where(ChannelMessageDB.user_id == user_id)
            .order_by(ChannelMessageDB.id)
        )
    )
    channel_messages = await affected_rows(
        session, delete(ChannelMessageDB).where(ChannelMessageDB.user_id == user_id)
    )
    feedback = await affected_rows(session, delete(FeedbackDB).where(FeedbackDB.user_id == user_id))
    messages = await affected_rows(session, delete(MessageDB).where(MessageDB.user_id == user_id))
    # the ORM's copy of the row (the caller's turn holds one) is dropped from the session too
    users = await affected_rows(
        session, delete(UserDB).where(UserDB.id == user_id), synchronize=True
    )
    outbox = 0
    if address and web_token(address) is not None:
        key = outbox_key(secret, address)
        outbox = await affected_rows(session, delete(WebOutboxDB).where(WebOutboxDB.address == key))
    return ErasureReport(
        users=users,
        messages=messages,
        feedback=feedback,
        channel_messages=channel_messages,
        case_messages=case_messages,
        cases_closed=len(closed),
        cases_unlinked=unlinked,
        web_outbox=outbox,
        ended=ended,
        chat_message_ids=chat_ids,
    )


async def summarise_user(*, session: AsyncSession, user_id: str) -> UserSummary:
    """Count what is kept about `user_id`; LookupError when there is no such user."""
    user = await session.get(UserDB, user_id)
    if user is None:
        raise LookupError("no such user")
    by_direction = select(MessageDB.direction, func.count()).where(MessageDB.user_id == user_id)
    directions = {
        str(row[0]): int(row[1])
        for row in await session.execute(by_direction.group_by(MessageDB.direction))
    }
    answered = MessageDB.user_id == user_id, MessageDB.kind == "answer"
    topics = await session.scalars(
        select(MessageDB.content_id)
        .where(*answered, MessageDB.content_id.is_not(None))
        .group_by(MessageDB.content_id)
        .order_by(func.max(MessageDB.id).desc())
        .limit(TOPICS_SHOWN)
    )
    topics_total = await session.scalar(
        select(func.count(distinct(MessageDB.content_id))).where(*answered)
    )
    by_status = select(CaseDB.status, func.count()).where(CaseDB.user_id == user_id)
    statuses = {
        str(row[0]): int(row[1]) for row in await session.execute(by_status.group_by(CaseDB.status))
    }
    theirs = select(CaseDB.id).where(CaseDB.user_id == user_id).scalar_subquery()
    return UserSummary(
        language=user.language,
        first_seen=nairobi_day(user.created_at),
        last_seen=nairobi_day(user.last_seen_at),
        messages_in=directions.get("in", 0),
        messages_out=directions.get("out", 0),
        topics=tuple(t for t in topics if t),
        topics_total=topics_total or 0,
        feedback=await _count(session, FeedbackDB.user_id == user_id, FeedbackDB.id),
        cases_open=sum(n for status, n in statuses.items() if status in OPEN),
        cases_closed=statuses.get("closed", 0),
        transcript=await _count(session, CaseMessageDB.case_id.in_(theirs), CaseMessageDB.id),
        sealed_addresses=await _count(
            session, (CaseDB.user_id == user_id) & CaseDB.route.is_not(None), CaseDB.id
        ),
        chat_message_ids=await _count(
            session, ChannelMessageDB.user_id == user_id, ChannelMessageDB.id
        ),
    )


async def _count(session: AsyncSession, condition: Any, column: Any) -> int:
    return int(await session.scalar(select(func.count(column)).where(condition)) or 0)
