"""Content revisions in the database: draft → submitted → published (or returned), rollback.

The database holds every revision of every answer; the bot serves the published one. `content/`
stays the versioned source: `import_items` brings the files in as revisions, `healthbot content
export` writes the published state back. Every publish bumps one counter (`content_state`) that
each running process polls to reload (bot.content.live).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.schema import ConversationItem, TopicItem
from bot.db.models import ContentRevisionDB, ContentStateDB, utcnow

DRAFT, SUBMITTED, RETURNED, PUBLISHED, RETIRED = (
    "draft",
    "submitted",
    "returned",
    "published",
    "retired",
)
KINDS = ("topic", "conversation")
FROM_FILES, FROM_WEB = "files", "web"
Item = TopicItem | ConversationItem


class RevisionError(Exception):
    """An action this revision's state or this person does not allow; the text is shown to them."""


def body_of(item: Item, examples: list[str]) -> dict[str, Any]:
    """A revision body: the item as in its YAML file (dates as ISO text) plus its examples."""
    body = item.model_dump(mode="json", by_alias=True)
    body["examples"] = list(examples)
    return body


def item_of(kind: str, body: Mapping[str, Any]) -> Item:
    """The content item a body describes; raises pydantic's ValidationError when it is invalid."""
    fields = {k: v for k, v in body.items() if k != "examples"}
    if kind == "topic":
        return TopicItem.model_validate(fields)
    return ConversationItem.model_validate(fields)


def examples_of(body: Mapping[str, Any]) -> list[str]:
    """The training examples a body carries."""
    return [str(e) for e in body.get("examples", []) or []]


# reading ----------------------------------------------------------------------------------------


def visible_to(row: ContentRevisionDB, username: str) -> bool:
    """Whether this account may open the revision: a draft is its author's alone (the console
    tells editors "Only you see it until you send it"); every other revision, any editor."""
    return row.status != DRAFT or row.author == username


async def content_version(session: AsyncSession) -> int:
    """The publish counter (0 before anything was published)."""
    version = await session.scalar(select(ContentStateDB.version).where(ContentStateDB.id == 1))
    return int(version or 0)


async def published(session: AsyncSession) -> dict[str, ContentRevisionDB]:
    """The published revision of each item."""
    rows = await session.scalars(
        select(ContentRevisionDB).where(ContentRevisionDB.status == PUBLISHED)
    )
    return {row.item: row for row in rows}


async def history(session: AsyncSession, item: str) -> list[ContentRevisionDB]:
    """Every revision of one item, newest first."""
    rows = await session.scalars(
        select(ContentRevisionDB)
        .where(ContentRevisionDB.item == item)
        .order_by(ContentRevisionDB.number.desc())
    )
    return list(rows)


async def revision(session: AsyncSession, item: str, number: int) -> ContentRevisionDB | None:
    """One revision, or None."""
    return await session.scalar(
        select(ContentRevisionDB).where(
            ContentRevisionDB.item == item, ContentRevisionDB.number == number
        )
    )


async def awaiting_review(session: AsyncSession) -> list[ContentRevisionDB]:
    """Submitted revisions, oldest first."""
    rows = await session.scalars(
        select(ContentRevisionDB)
        .where(ContentRevisionDB.status == SUBMITTED)
        .order_by(ContentRevisionDB.submitted_at)
    )
    return list(rows)


async def pending(session: AsyncSession) -> dict[str, list[ContentRevisionDB]]:
    """Unpublished revisions (drafts, submitted, returned) by item, oldest first."""
    rows = await session.scalars(
        select(ContentRevisionDB)
        .where(ContentRevisionDB.status.in_((DRAFT, SUBMITTED, RETURNED)))
        .order_by(ContentRevisionDB.number)
    )
    found: dict[str, list[ContentRevisionDB]] = {}
    for row in rows:
        found.setdefault(row.item, []).append(row)
    return found


async def open_revision(session: AsyncSession, item: str, author: str) -> ContentRevisionDB | None:
    """The author's unfinished revision of an item (a draft, or one returned to them)."""
    return await session.scalar(
        select(ContentRevisionDB).where(
            ContentRevisionDB.item == item,
            ContentRevisionDB.author == author,
            ContentRevisionDB.status.in_((DRAFT, RETURNED)),
        )
    )


# editing and review -----------------------------------------------------------------------------


async def save_draft(
    session: AsyncSession, *, item: str, kind: str, body: dict[str, Any], author: str
) -> ContentRevisionDB:
    """Save an editor's draft: their open revision of the item is updated, or a new one made."""
    draft = await open_revision(session, item, author)
    if draft is None:
        current = (await published(session)).get(item)
        draft = await _new_revision(
            session, item=item, kind=kind, body=body, author=author, status=DRAFT, origin=FROM_WEB
        )
        draft.based_on = current.number if current is not None else None
    else:
        draft.body = body
        draft.status = DRAFT
        draft.created_at = utcnow()
    return draft


async def submit(session: AsyncSession, *, item: str, number: int, actor: str) -> ContentRevisionDB:
    """Send a draft for review (only its author can)."""
    row = await _existing(session, item, number)
    if row.status not in (DRAFT, RETURNED):
        raise RevisionError(f"Revision {number} is {row.status}; only a draft can be submitted.")
    if row.author != actor:
        raise RevisionError("Only the author of a draft can submit it.")
    row.status = SUBMITTED
    row.submitted_at = utcnow()
    return row


async def approve(
    session: AsyncSession, *, item: str, number: int, reviewer: str, today: date
) -> ContentRevisionDB:
    """Publish a submitted revision. A reviewer never approves their own work.

    Approval is a review: `reviewed_on` becomes today and `next_review` keeps its interval.
    """
    row = await _existing(session, item, number)
    if row.status != SUBMITTED:
        raise RevisionError(f"Revision {number} is {row.status}; only a submitted one is approved.")
    if row.author == reviewer:
        raise RevisionError("Someone else must review your own changes.")
    row.body = _reviewed(row.body, today)
    row.reviewer = reviewer
    row.decided_at = utcnow()
    await _publish(session, row)
    return row


async def return_to_author(
    session: AsyncSession, *, item: str, number: int, reviewer: str, comment: str
) -> ContentRevisionDB:
    """Send a submitted revision back to its author with the reviewer's comment."""
    row = await _existing(session, item, number)
    if row.status != SUBMITTED:
        raise RevisionError(f"Revision {number} is {row.status}; only a submitted one is returned.")
    if not comment.strip():
        raise RevisionError("Say what needs to change: a comment is required.")
    row.status = RETURNED
    row.reviewer = reviewer
    row.comment = comment.strip()[:1000]
    row.decided_at = utcnow()
    return row


async def rollback(
    session: AsyncSession, *, item: str, number: int, actor: str
) -> ContentRevisionDB:
    """Publish an earlier published revision again, as a new revision (history stays as it was)."""
    old = await _existing(session, item, number)
    if old.status not in (PUBLISHED, RETIRED):
        raise RevisionError(f"Revision {number} was never published; only those can come back.")
    if old.status == PUBLISHED:
        raise RevisionError(f"Revision {number} is already the published one.")
    row = await _new_revision(
        session,
        item=item,
        kind=old.kind,
        body=dict(old.body),
        author=actor,
        status=SUBMITTED,
        origin=FROM_WEB,
    )
    row.based_on = old.number
    row.reviewer = actor
    row.comment = f"rollback to revision {old.number}"
    row.decided_at = utcnow()
    await _publish(session, row)
    return row


# files ------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What `import_items` did, item by item."""

    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the console's revision is newer than the file
    conflicts: list[str] = field(default_factory=list)  # both changed: skipped unless forced


async def import_items(
    session: AsyncSession,
    items: Mapping[str, tuple[str, dict[str, Any]]],
    *,
    author: str,
    force: bool = False,
) -> ImportReport:
    """Publish the files' version of each item (item → (kind, body)) where it is new or changed.

    A console edit newer than the file is kept (the file has not changed since it was last
    imported); when both changed, the item is a conflict and is skipped unless `force`.
    """
    report = ImportReport()
    await _serialise(session)
    current = await published(session)
    for item, (kind, body) in sorted(items.items()):
        live = current.get(item)
        if live is not None and live.body == body:
            report.unchanged.append(item)
            continue
        if live is not None and live.origin == FROM_WEB and not force:
            last_import = await _last_import(session, item)
            if last_import is not None and last_import.body == body:
                report.kept.append(item)
            else:
                report.conflicts.append(item)
            continue
        row = await _new_revision(
            session,
            item=item,
            kind=kind,
            body=body,
            author=author,
            status=SUBMITTED,
            origin=FROM_FILES,
        )
        row.based_on = live.number if live is not None else None
        row.reviewer = author
        row.decided_at = utcnow()
        await _publish(session, row)
        report.imported.append(item)
    return report


# internals --------------------------------------------------------------------------------------


async def _existing(session: AsyncSession, item: str, number: int) -> ContentRevisionDB:
    row = await revision(session, item, number)
    if row is None:
        raise RevisionError(f"There is no revision {number} of {item}.")
    return row


async def _new_revision(
    session: AsyncSession,
    *,
    item: str,
    kind: str,
    body: dict[str, Any],
    author: str,
    status: str,
    origin: str,
) -> ContentRevisionDB:
    if kind not in KINDS:
        raise RevisionError(f"Unknown content kind {kind!r}.")
    await _serialise(session)
    last = await session.scalar(
        select(func.max(ContentRevisionDB.number)).where(ContentRevisionDB.item == item)
    )
    row = ContentRevisionDB(
        item=item,
        kind=kind,
        number=int(last or 0) + 1,
        body=body,
        status=status,
        origin=origin,
        author=author,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def _publish(session: AsyncSession, row: ContentRevisionDB) -> None:
    """Make `row` the published revision of its item and tell every process to reload."""
    now = utcnow()
    await session.execute(
        update(ContentRevisionDB)
        .where(
            ContentRevisionDB.item == row.item,
            ContentRevisionDB.status == PUBLISHED,
            ContentRevisionDB.id != row.id,
        )
        .values(status=RETIRED)
    )
    row.status = PUBLISHED
    row.published_at = now
    await _serialise(session)
    await session.execute(
        update(ContentStateDB)
        .where(ContentStateDB.id == 1)
        .values(version=ContentStateDB.version + 1, changed_at=now)
    )
    await session.flush()


async def _serialise(session: AsyncSession) -> None:
    """Take the content write lock for the rest of this transaction (a no-op write to the one
    `content_state` row): imports, new revisions and publishes from several processes then run
    one after another, and each reads what the one before committed.

    Migration 0005 writes that row; should it be missing, it is made (a race to make it ends in
    an IntegrityError, which `import_files` retries)."""
    locked = await session.execute(
        update(ContentStateDB).where(ContentStateDB.id == 1).values(version=ContentStateDB.version)
    )
    if getattr(locked, "rowcount", 1) == 0:
        session.add(ContentStateDB(id=1, version=0, changed_at=utcnow()))
        await session.flush()


async def _last_import(session: AsyncSession, item: str) -> ContentRevisionDB | None:
    return await session.scalar(
        select(ContentRevisionDB)
        .where(ContentRevisionDB.item == item, ContentRevisionDB.origin == FROM_FILES)
        .order_by(ContentRevisionDB.number.desc())
        .limit(1)
    )


def _reviewed(body: dict[str, Any], today: date) -> dict[str, Any]:
    if "reviewed_on" not in body:
        return body
    try:
        interval = date.fromisoformat(body["next_review"]) - date.fromisoformat(body["reviewed_on"])
    except (KeyError, TypeError, ValueError):
        interval = timedelta(days=365)
    interval = max(interval, timedelta(days=30))
    return {**body, "reviewed_on": today.isoformat(), "next_review": (today + interval).isoformat()}


def now_date(moment: datetime | None = None) -> date:
    """Today (UTC) for review dates."""
    return (moment or utcnow()).date()
