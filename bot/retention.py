"""The retention purge: delete what is older than the privacy notice says it is kept.

| rows | deleted when |
|---|---|
| `messages` (and the `feedback` on them) | older than `retention_days` |
| `case_messages` (transcripts) | older than `retention_days` |
| `cases.route` (sealed address) of closed cases | closed longer than `ROUTE_FOR` (24 hours) ago |
| `users` with no waiting or active case | not seen for `retention_days` (cases unlinked first) |
| closed `cases` and their `case_notes` | closed longer than `CASES_FOR` (365 days) ago |
| `audit_log` | older than `AUDIT_FOR` (365 days) |
| `channel_messages` | older than 2 days (Telegram cannot delete a message after 48 hours) |
| `telegram_updates`, `web_outbox` | older than 1 day |
| `ended_web_chats` (keyed hashes of ended tokens) | ended over 12 hours ago (`ENDED_CHATS_FOR`) |
| `unanswered`, `referral_searches` (linked to nobody) | older than 365 days |

Why these periods. The sealed address exists only so the bot can write to the young person: after
a close that is the rating question, sent at once, so it is kept for a day (`ROUTE_FOR`, rated or
not) and no longer; a web chat's address is its bearer token. A closed case and a counsellor's
notes are safeguarding records: a young person may come back about the same abuse, a supervisor
may review how a crisis was handled, a complaint or a referral to the police or children's services
may follow weeks later. A year covers those (and a year of case counts for insight); after that
free-text notes about a minor are more risk than use, so the case row goes with them: nothing is
kept "for insight" that a counsellor's note could link to a person. The audit log names staff and
case numbers: it is kept as long as the cases it speaks about (`AUDIT_FOR`), so every action on a
case can be checked while the case exists, and not longer. A case closed without a time (none
should be) counts from when it was opened.

Each table is deleted in batches of `BATCH` rows (`messages`: `MESSAGES_BATCH`), one short
transaction each, so a big table never holds a long lock (SQLite has one writer: a long DELETE
would stall every turn). A batch picks its rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two processes purging at once take different rows and never wait for, or deadlock with, each
other; SQLite serialises writers and ignores the clause. Tables with a time index are batched
through it; the others walk their increasing integer key (old rows have low ids), so a batch
stops after `BATCH` matches instead of scanning the table.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.cases.repository import OPEN
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
    as_utc,
    utcnow,
)
from bot.db.repository import affected_rows

log = logging.getLogger(__name__)

BATCH = 5000
# Each message deleted looks up its feedback (SQLite checks the key, PostgreSQL cascades):
# migration 0006 indexes `feedback.message_id` for it. 100,000 old messages with 10,000 feedback
# rows took 84 s on SQLite and 45 s on PostgreSQL without the index, 1.4 s and 2.9 s with it.
MESSAGES_BATCH = 1000
CHANNEL_MESSAGES_FOR = timedelta(days=2)
UPDATES_FOR = timedelta(days=1)
OUTBOX_FOR = timedelta(days=1)
UNLINKED_FOR = timedelta(days=365)
ROUTE_FOR = timedelta(hours=24)  # the rating window after a close
CASES_FOR = timedelta(days=365)  # closed cases and counsellors' notes (safeguarding)
AUDIT_FOR = CASES_FOR  # as long as the cases it speaks about
# a web chat token's idle limit (bot.web.chat_session.IDLE): an ended token's signature has
# expired by then, so its hash guards nothing
ENDED_CHATS_FOR = timedelta(hours=12)


@dataclass
class PurgeReport:
    """Rows deleted (or, for routes and unlinked cases, cleared) per table."""

    messages: int = 0
    feedback: int = 0
    case_messages: int = 0
    case_routes: int = 0
    cases_unlinked: int = 0
    users: int = 0
    case_notes: int = 0
    cases: int = 0
    audit_log: int = 0
    channel_messages: int = 0
    telegram_updates: int = 0
    web_outbox: int = 0
    ended_web_chats: int = 0
    unanswered: int = 0
    referral_searches: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by name, in a fixed order."""
        return asdict(self)


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    *,
    retention_days: int,
    now: datetime | None = None,
) -> PurgeReport:
    """Delete everything past its time (see the module's table); safe to run from two processes."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = as_utc(now or utcnow())
    cutoff = now - timedelta(days=retention_days)
    report = PurgeReport()
    report.feedback, report.messages = await _messages(sessions, cutoff)
    report.case_messages = await _batched(
        sessions, CaseMessageDB.id, CaseMessageDB.created_at < cutoff, walk=True
    )
    report.case_routes = await _once(
        sessions,
        update(CaseDB)
        .where(
            CaseDB.status == "closed",
            CaseDB.route.is_not(None),
            _closed_at() < now - ROUTE_FOR,
        )
        .values(route=None),
    )
    report.channel_messages = await _batched(
        sessions,
        ChannelMessageDB.id,
        ChannelMessageDB.created_at < now - CHANNEL_MESSAGES_FOR,
        walk=True,
    )
    # after the tables above, so the rows the users' foreign keys would cascade to are counted
    report.cases_unlinked, report.users = await _users(sessions, cutoff)
    report.case_notes, report.cases = await _closed_cases(sessions, now - CASES_FOR)
    report.audit_log = await _batched(sessions, AuditDB.id, AuditDB.at < now - AUDIT_FOR)
    report.telegram_updates = await _batched(
        sessions, TelegramUpdateDB.update_id, TelegramUpdateDB.received_at < now - UPDATES_FOR
    )
    report.web_outbox = await _batched(
        sessions, WebOutboxDB.id, WebOutboxDB.created_at < now - OUTBOX_FOR, walk=True
    )
    report.ended_web_chats = await _batched(
        sessions, EndedWebChatDB.key, EndedWebChatDB.ended_at < now - ENDED_CHATS_FOR
    )
    last_day = (now + NAIROBI_OFFSET).date() - UNLINKED_FOR  # rows linked to nobody keep a day
    report.unanswered = await _batched(sessions, UnansweredDB.id, UnansweredDB.day < last_day)
    report.referral_searches = await _batched(
        sessions, ReferralSearchDB.id, ReferralSearchDB.day < last_day
    )
    log.info("retention purge: %s", ", ".join(f"{k} {v}" for k, v in report.counts().items()))
    return report


async def _messages(
    sessions: async_sessionmaker[AsyncSession], cutoff: datetime
) -> tuple[int, int]:
    """Old message records and the feedback on them (deleted first, by message id, so the
    report counts them; the foreign key would cascade to them anyway)."""
    feedback = messages = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(MessageDB.id)
                    .where(MessageDB.created_at < cutoff)
                    .order_by(MessageDB.id)
                    .limit(MESSAGES_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                feedback += await affected_rows(
                    session, delete(FeedbackDB).where(FeedbackDB.message_id.in_(ids))
                )
                messages += await affected_rows(
                    session, delete(MessageDB).where(MessageDB.id.in_(ids))
                )
        if len(ids) < MESSAGES_BATCH:
            return feedback, messages


async def _users(sessions: async_sessionmaker[AsyncSession], cutoff: datetime) -> tuple[int, int]:
    """Users not seen since `cutoff` with no open case: unlink their cases, then delete them.

    The conditions are checked again in the statements that change rows, so a young person who
    comes back in the meantime keeps their row. A deleted row's remaining messages, feedback and
    chat message ids go with it (foreign keys with ON DELETE CASCADE).
    """
    open_case = exists().where(CaseDB.user_id == UserDB.id, CaseDB.status.in_(OPEN))
    stale = and_(UserDB.last_seen_at < cutoff, ~open_case)
    unlinked = users = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(UserDB.id).where(stale).limit(BATCH).with_for_update(skip_locked=True)
                )
            )
            if ids:
                still_stale = select(UserDB.id).where(UserDB.id.in_(ids), stale)
                unlinked += await affected_rows(
                    session,
                    update(CaseDB)
                    .where(CaseDB.user_id.in_(still_stale), CaseDB.status == "closed")
                    .values(user_id=None, route=None),
                )
                users += await affected_rows(
                    session, delete(UserDB).where(UserDB.id.in_(ids), stale)
                )
        if len(ids) < BATCH:
            return unlinked, users


async def _closed_cases(
    sessions: async_sessionmaker[AsyncSession], before: datetime
) -> tuple[int, int]:
    """Cases closed before `before`, and their notes (deleted first, so the report counts them;
    the foreign key would cascade to them anyway). Transcripts went when each case closed."""
    notes = cases = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(CaseDB.id)
                    .where(CaseDB.status == "closed", _closed_at() < before)
                    .order_by(CaseDB.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                notes += await affected_rows(
                    session, delete(CaseNoteDB).where(CaseNoteDB.case_id.in_(ids))
                )
                cases += await affected_rows(
                    session, delete(CaseDB).where(CaseDB.id.in_(ids), CaseDB.status == "closed")
                )
        if len(ids) < BATCH:
            return notes, cases


def _closed_at() -> ColumnElement[datetime]:
    """When a closed case closed (its opening time if, from an older version, none was kept)."""
    return func.coalesce(CaseDB.closed_at, CaseDB.opened_at)


async def _batched(
    sessions: async_sessionmaker[AsyncSession],
    key: InstrumentedAttribute[Any],
    condition: ColumnElement[bool],
    *,
    walk: bool = False,
) -> int:
    """Delete the rows of `key`'s table that meet `condition`, BATCH at a time.

    `walk`: pick each batch in order of `key` (an increasing integer id, for tables with no index
    on their time), so the search stops at the first BATCH old rows.
    """
    total = 0
    while True:
        batch = select(key).where(condition).limit(BATCH).with_for_update(skip_locked=True)
        if walk:
            batch = batch.order_by(key)
        async with sessions() as session, session.begin():
            deleted = await affected_rows(
                session, delete(key.class_).where(key.in_(batch.scalar_subquery()))
            )
        total += deleted
        if deleted < BATCH:
            return total


async def _once(sessions: async_sessionmaker[AsyncSession], statement: Any) -> int:
    """One statement in its own transaction (`cases` is small: one statement is short)."""
    async with sessions() as session, session.begin():
        return await affected_rows(session, statement)
