"""Tables. Users are known by a pseudonymous id only: no names, usernames, phones or chat ids."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAIROBI_OFFSET = timedelta(hours=3)


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base for every table."""


class UserDB(Base):
    """A young person, known by a keyed hash of their channel id, with their conversation state."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(2))  # chosen with /language
    detected_language: Mapped[str | None] = mapped_column(String(2))  # from their last message
    state: Mapped[str] = mapped_column(String(32), default="idle")
    state_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageDB(Base):
    """One turn of a conversation, kept as metadata: the text a young person typed is not stored."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    kind: Mapped[str] = mapped_column(String(16))  # text, button, command, media, answer, ...
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(2))
    content_id: Mapped[str | None] = mapped_column(String(64))
    content_revision: Mapped[int | None] = mapped_column(Integer)  # the revision number sent
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedbackDB(Base):
    """A young person's 👍 / 👎 on one answer; pressing again changes the vote."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("user_id", "message_id", name="uq_feedback_user_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    content_id: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseDB(Base):
    """An escalation to a human; each crisis opens an urgent one (issue 6 adds the queue)."""

    __tablename__ = "cases"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012  (ids never reused)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # None once the young person deleted their data or was purged: notes kept, linked to nobody
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    source: Mapped[str] = mapped_column(String(16))  # crisis, request, offer
    category: Mapped[str | None] = mapped_column(String(32))  # crisis category
    matched: Mapped[str | None] = mapped_column(String(200))  # the rule or model that fired
    priority: Mapped[str] = mapped_column(String(8))  # urgent, high, normal
    # waiting, active, closed; check_in: a possible crisis awaiting its answer (out of the queue)
    status: Mapped[str] = mapped_column(String(8), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_crisis_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    topic: Mapped[str | None] = mapped_column(String(64))  # what they asked about, if known
    counsellor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counsellors.id", ondelete="SET NULL", name="fk_cases_counsellor_id"),
        index=True,
    )
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(500))
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, from the young person
    # the young person's channel address, sealed (bot.cases.seal); cleared once they have rated,
    # or by the purge a day after the close (bot.retention)
    route: Mapped[str | None] = mapped_column(String(512))
    # how the young person left while it was open ("quick_exit"), and when
    left_how: Mapped[str | None] = mapped_column(String(16))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CounsellorDB(Base):
    """A member of staff who takes cases on Telegram, on the web console or both.

    Young people never see who they are.
    """

    __tablename__ = "counsellors"
    __table_args__ = (
        UniqueConstraint("telegram_id", name="uq_counsellors_telegram_id"),
        UniqueConstraint("web_user_id", name="uq_counsellors_web_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    web_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("web_users.id", ondelete="CASCADE", name="fk_counsellors_web_user_id")
    )
    name: Mapped[str] = mapped_column(String(80))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseNoteDB(Base):
    """A counsellor's private note on a case; kept a year after the case closes (bot.retention)."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    counsellor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counsellors.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseMessageDB(Base):
    """One relayed message of an open case; the whole transcript is deleted when it closes."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(10))  # young, counsellor
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # a counsellor's message: when it reached the young person's chat (sent, or shown on the page)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChannelMessageDB(Base):
    """Ids of recent messages in a user's chat (no content), so /exit can delete them."""

    __tablename__ = "channel_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebUserDB(Base):
    """A member of staff who signs in to the web console (never a young person)."""

    __tablename__ = "web_users"
    __table_args__ = (
        UniqueConstraint("username", name="uq_web_users_username"),
        {"sqlite_autoincrement": True},  # a removed account's id is never given to a new one
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters
    role: Mapped[str] = mapped_column(String(16))  # counsellor, editor, reviewer, admin
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row, reset on lock
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # bumped on logout, password and role change: older console cookies stop working
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditDB(Base):
    """Who did what to which case, content item or account, and when.

    `detail` never holds a young person's words or ids.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a web username, "telegram counsellor N", "cli"
    action: Mapped[str] = mapped_column(String(64))  # e.g. user.add, case.claim, content.publish
    target: Mapped[str] = mapped_column(String(128))  # e.g. "user amina", "case 12"
    detail: Mapped[str] = mapped_column(String(500), default="")


class ContentRevisionDB(Base):
    """One revision of one content item (a topic answer or a conversational reply).

    `body` is the item as in its YAML file, plus `examples` (its NLU training examples). Status
    moves draft → submitted → published, or submitted → returned (with the reviewer's comment) →
    draft again; publishing retires the previously published revision of the same item.
    """

    __tablename__ = "content_revisions"
    __table_args__ = (UniqueConstraint("item", "number", name="uq_content_revisions_item_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item: Mapped[str] = mapped_column(String(64), index=True)  # the intent it answers
    kind: Mapped[str] = mapped_column(String(16))  # topic, conversation
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... per item
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), index=True)
    origin: Mapped[str] = mapped_column(String(8))  # files (imported), web (edited)
    based_on: Mapped[int | None] = mapped_column(Integer)  # the revision number it was edited from
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(String(1000))  # the reviewer's, when returned
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContentStateDB(Base):
    """One row: a counter bumped by every publish, which each process polls to reload content."""

    __tablename__ = "content_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def random_id() -> str:
    """A random key: rows linked to nobody must not keep the order they were written in."""
    return secrets.token_hex(16)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite returns them without an offset: they are UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def nairobi_day(moment: datetime) -> date:
    """The day in Kenya (UTC+3 all year) of a time."""
    return (as_utc(moment) + NAIROBI_OFFSET).date()


def nairobi_today() -> date:
    """Today in Kenya, the only time kept on rows linked to nobody."""
    return nairobi_day(utcnow())


class UnansweredDB(Base):
    """A question nothing answered, scrubbed of identifiers and linked to nobody (for editors).

    A random key and the day only: no timestamp or sequence could join it back to `messages`.
    """

    __tablename__ = "unanswered"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    text: Mapped[str] = mapped_column(String(300))  # numbers, links, handles, emails removed
    language: Mapped[str] = mapped_column(String(2))
    guess: Mapped[str | None] = mapped_column(String(64))  # the parser's best, unsure, intent
    day: Mapped[date] = mapped_column(Date, default=nairobi_today, index=True)


class ReferralSearchDB(Base):
    """A facility search counted by service and county, linked to nobody (random key, day only)."""

    __tablename__ = "referral_searches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    service: Mapped[str] = mapped_column(String(32))
    county: Mapped[str | None] = mapped_column(String(64))  # of the nearest facility; no finer
    day: Mapped[date] = mapped_column(Date, default=nairobi_today, index=True)


class WebOutboxDB(Base):
    """A message waiting for a web-chat page to fetch it (a counsellor's reply, a case update).

    `address` is the web chat's `web:<token>`; rows are deleted once fetched or after a day.
    """

    __tablename__ = "web_outbox"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012  (ids never reused)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    receipt: Mapped[int | None] = mapped_column(Integer)  # the case_messages row it carries
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TelegramUpdateDB(Base):
    """A webhook update taken by some process (so a redelivery is not answered twice).

    `received_at` is when it was taken, `handled_at` when its replies were sent.
    """

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # polling mode: the update, sealed, kept until answered and cleared when marked answered
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EndedWebChatDB(Base):
    """A web chat token that was ended (quick exit, /exit, /delete), by keyed hash only.

    Kept until the token would have expired anyway, so a copied cookie opens nothing.
    """

    __tablename__ = "ended_web_chats"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
