"""Keyword-only database functions the engine calls; each takes an open session."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import DateTime, Integer, String, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.db.models import (
    ChannelMessageDB,
    FeedbackDB,
    MessageDB,
    ReferralSearchDB,
    UnansweredDB,
    UserDB,
    utcnow,
)

_NEW_USER_COLUMNS = ("id", "channel", "state", "state_data", "created_at", "last_seen_at")


def _upsert_user(insert_for: Any) -> Any:
    """Create the user row, or mark it seen; load it as a UserDB (built once per dialect).

    A Core upsert read back through `from_statement`: the ORM's bulk-insert path costs more.
    """
    table = UserDB.__table__
    upsert = insert_for(table).values({name: bindparam(name) for name in _NEW_USER_COLUMNS})
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.id], set_={"last_seen_at": upsert.excluded.last_seen_at}
    ).returning(*table.c)
    return select(UserDB).from_statement(upsert)


# Statements on the path of every message are built once: building one costs more than running it
_UPSERT_USER = {"postgresql": _upsert_user(pg_insert), "sqlite": _upsert_user(sqlite_insert)}
_LOG_MESSAGE = insert(MessageDB).returning(MessageDB.id)
_USER_ID = bindparam("user_id", type_=String(64))
_REMEMBER_MESSAGE = insert(ChannelMessageDB).from_select(
    ["user_id", "message_id", "created_at"],
    select(
        _USER_ID,
        bindparam("message_id", type_=Integer()),
        bindparam("created_at", type_=DateTime(timezone=True)),
    ).where(select(UserDB.id).where(UserDB.id == _USER_ID).exists()),
)


async def get_or_create_user(*, session: AsyncSession, user_id: str, channel: str) -> UserDB:
    """Return the user row, locked for this turn, creating it on first contact.

    One round trip: an upsert that creates the row or marks it seen, and returns it. On
    PostgreSQL the upsert's row lock makes two turns of one person, in two processes or two tasks,
    run one after the other; SQLite serialises writers anyway.
    """
    now = utcnow()
    values = {
        "id": user_id,
        "channel": channel,
        "state": "idle",
        "state_data": {},
        "created_at": now,
        "last_seen_at": now,
    }
    statement = _UPSERT_USER[session.get_bind().dialect.name]
    fresh = {"populate_existing": True}  # the returned row, not an older copy in the session
    user: UserDB = (await session.scalars(statement, values, execution_options=fresh)).one()
    return user


async def log_message(
    *,
    session: AsyncSession,
    user_id: str,
    direction: str,
    kind: str,
    intent: str | None = None,
    confidence: float | None = None,
    language: str | None = None,
    content_id: str | None = None,
    content_revision: int | None = None,
) -> int:
    """Record one turn's metadata (never the text) and return its id.

    A Core INSERT ... RETURNING on the session's connection: one round trip, without the ORM's
    unit of work or its bulk-insert machinery.
    """
    values = {
        "user_id": user_id,
        "direction": direction,
        "kind": kind,
        "intent": intent,
        "confidence": confidence,
        "language": language,
        "content_id": content_id,
        "content_revision": content_revision,
        "created_at": utcnow(),
    }
    connection = await session.connection()
    return int((await connection.execute(_LOG_MESSAGE, values)).scalar_one())


def unanswered_row(*, text: str, language: str, guess: str | None) -> UnansweredDB | None:
    """A scrubbed question nothing answered, linked to nobody (see bot.privacy.scrub); None for
    an empty one. Written apart from the turn (bot.dialogue.unlinked)."""
    return UnansweredDB(text=text, language=language, guess=guess) if text.strip() else None


def referral_search_row(*, service: str, county: str | None) -> ReferralSearchDB:
    """A facility search counted by service and county, linked to nobody (written apart)."""
    return ReferralSearchDB(service=service, county=county)


async def record_feedback(
    *, session: AsyncSession, user_id: str, message_id: int, helpful: bool
) -> FeedbackDB | None:
    """Store 👍/👎 for an answer this user received; None when the answer is not theirs."""
    message = await session.get(MessageDB, message_id)
    if (
        message is None
        or message.user_id != user_id
        or message.kind != "answer"
        or message.content_id is None
    ):
        return None
    existing = await session.scalar(
        select(FeedbackDB).where(FeedbackDB.user_id == user_id, FeedbackDB.message_id == message_id)
    )
    if existing is not None:
        existing.helpful = helpful
        return existing
    feedback = FeedbackDB(
        user_id=user_id,
        message_id=message_id,
        content_id=message.content_id,
        helpful=helpful,
        created_at=utcnow(),
    )
    session.add(feedback)
    await session.flush()
    return feedback


async def remember_channel_messages(
    *, connection: AsyncConnection, user_id: str, message_ids: list[int]
) -> None:
    """Keep the ids (never the content) of messages in the user's chat, for /exit.

    Nothing is kept for someone without a user row (they have just erased their data). They are
    kept two days (the purge), the 48 hours Telegram lets a bot delete messages in: /exit clears
    all of those, however many.
    """
    if not message_ids:
        return
    now = utcnow()
    # one INSERT ... SELECT per id in one batch (no row read back), nothing if the user is gone
    await connection.execute(
        _REMEMBER_MESSAGE,
        [{"user_id": user_id, "message_id": i, "created_at": now} for i in message_ids],
    )


async def forget_channel_messages(*, session: AsyncSession, user_id: str) -> list[int]:
    """Return and forget the ids of the user's recent chat messages (for /exit)."""
    ids = list(
        await session.scalars(
            select(ChannelMessageDB.message_id)
            .where(ChannelMessageDB.user_id == user_id)
            .order_by(ChannelMessageDB.id)
        )
    )
    await session.execute(delete(ChannelMessageDB).where(ChannelMessageDB.user_id == user_id))
    return ids


async def affected_rows(session: AsyncSession, statement: Any, *, synchronize: bool = False) -> int:
    """Run a DELETE or UPDATE and return how many rows it touched.

    `synchronize`: also drop or update the ORM's copies of those rows held by this session.
    """
    result = await session.execute(
        statement,
        execution_options={"synchronize_session": "evaluate" if synchronize else False},
    )
    return cast("CursorResult[Any]", result).rowcount
