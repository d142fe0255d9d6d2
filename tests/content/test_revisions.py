"""The revision workflow: draft → submitted → published or returned; rollback; import rules."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import paths
from bot.content import revisions
from bot.content.live import file_items
from bot.content.revisions import RevisionError
from bot.content.store import ContentStore
from bot.content.sync import import_files
from bot.db.migrate import upgrade
from bot.db.models import ContentRevisionDB, ContentStateDB
from bot.db.session import create_engine, session_factory

TODAY = date(2026, 12, 1)


@pytest.fixture
def items(content: ContentStore) -> dict[str, tuple[str, dict[str, Any]]]:
    return file_items(content, {"hiv_prep": ["what is prep", "where do i get prep"]})


def edited(items: dict[str, tuple[str, dict[str, Any]]], text: str) -> dict[str, Any]:
    body = dict(items["hiv_prep"][1])
    body["answer"] = {**body["answer"], "en": text}
    return body


async def seed(sessions: async_sessionmaker[AsyncSession], items: Any) -> None:
    async with sessions() as session, session.begin():
        await revisions.import_items(session, items, author="content files")


async def test_import_publishes_every_item_once_and_counts_a_version(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    await seed(sessions, items)
    await seed(sessions, items)  # again: nothing changed, nothing new
    async with sessions() as session:
        live = await revisions.published(session)
        version = await revisions.content_version(session)
        count = len(list(await session.scalars(select(ContentRevisionDB))))
    assert set(live) == set(items)
    assert {r.number for r in live.values()} == {1}
    assert count == len(items)
    assert version == len(items)


async def test_a_draft_is_reviewed_by_someone_else_then_published(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    await seed(sessions, items)
    async with sessions() as session, session.begin():
        draft = await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=edited(items, "New text"), author="amina"
        )
        assert (draft.number, draft.status, draft.based_on) == (2, "draft", 1)
        again = await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=edited(items, "Newer"), author="amina"
        )
        assert again.id == draft.id  # one open draft per author and item
        with pytest.raises(RevisionError, match="Only the author"):
            await revisions.submit(session, item="hiv_prep", number=2, actor="otieno")
        await revisions.submit(session, item="hiv_prep", number=2, actor="amina")
        with pytest.raises(RevisionError, match="Someone else"):
            await revisions.approve(
                session, item="hiv_prep", number=2, reviewer="amina", today=TODAY
            )
        before = await revisions.content_version(session)
        row = await revisions.approve(
            session, item="hiv_prep", number=2, reviewer="dr_wanjiru", today=TODAY
        )
        assert await revisions.content_version(session) == before + 1
    assert row.status == "published"
    assert row.body["answer"]["en"] == "Newer"
    assert row.body["reviewed_on"] == "2026-12-01"  # approval is a review
    assert row.body["next_review"] == "2027-12-01"  # the same one-year interval
    async with sessions() as session:
        history = await revisions.history(session, "hiv_prep")
    assert [(r.number, r.status) for r in history] == [(2, "published"), (1, "retired")]


async def test_returned_with_a_comment_goes_back_to_the_author(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    await seed(sessions, items)
    async with sessions() as session, session.begin():
        await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=edited(items, "x"), author="amina"
        )
        await revisions.submit(session, item="hiv_prep", number=2, actor="amina")
        with pytest.raises(RevisionError, match="comment is required"):
            await revisions.return_to_author(
                session, item="hiv_prep", number=2, reviewer="dr_wanjiru", comment="  "
            )
        await revisions.return_to_author(
            session, item="hiv_prep", number=2, reviewer="dr_wanjiru", comment="Cite NASCOP 2022"
        )
        mine = await revisions.open_revision(session, "hiv_prep", "amina")
        assert mine is not None and mine.status == "returned"
        assert mine.comment == "Cite NASCOP 2022"
        assert await revisions.awaiting_review(session) == []
        with pytest.raises(RevisionError, match="only a submitted one"):
            await revisions.approve(
                session, item="hiv_prep", number=2, reviewer="dr_wanjiru", today=TODAY
            )
        await revisions.submit(session, item="hiv_prep", number=2, actor="amina")  # resubmit
        assert [r.number for r in await revisions.awaiting_review(session)] == [2]
        assert (await revisions.published(session))["hiv_prep"].number == 1  # still live


async def test_rollback_publishes_an_old_revision_as_a_new_one(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    await seed(sessions, items)
    async with sessions() as session, session.begin():
        await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=edited(items, "bad"), author="amina"
        )
        await revisions.submit(session, item="hiv_prep", number=2, actor="amina")
        await revisions.approve(
            session, item="hiv_prep", number=2, reviewer="dr_wanjiru", today=TODAY
        )
        with pytest.raises(RevisionError, match="already the published"):
            await revisions.rollback(session, item="hiv_prep", number=2, actor="dr_wanjiru")
        row = await revisions.rollback(session, item="hiv_prep", number=1, actor="dr_wanjiru")
        assert (row.number, row.status, row.based_on) == (3, "published", 1)
        assert row.body == items["hiv_prep"][1]
        assert row.comment == "rollback to revision 1"
        with pytest.raises(RevisionError, match="no revision 9"):
            await revisions.rollback(session, item="hiv_prep", number=9, actor="dr_wanjiru")
        statuses = [(r.number, r.status) for r in await revisions.history(session, "hiv_prep")]
    assert statuses == [(3, "published"), (2, "retired"), (1, "retired")]


async def test_import_keeps_newer_console_edits_and_reports_conflicts(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    await seed(sessions, items)
    async with sessions() as session, session.begin():
        await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=edited(items, "web"), author="amina"
        )
        await revisions.submit(session, item="hiv_prep", number=2, actor="amina")
        await revisions.approve(
            session, item="hiv_prep", number=2, reviewer="dr_wanjiru", today=TODAY
        )
    async with sessions() as session, session.begin():  # files unchanged: the console's stays
        report = await revisions.import_items(session, items, author="content files")
    assert report.kept == ["hiv_prep"] and report.imported == []
    changed = {**items, "hiv_prep": ("topic", edited(items, "edited in git"))}
    async with sessions() as session, session.begin():  # both changed: a conflict, skipped
        report = await revisions.import_items(session, changed, author="content files")
    assert report.conflicts == ["hiv_prep"]
    async with sessions() as session, session.begin():  # forced: the files win
        report = await revisions.import_items(session, changed, author="content files", force=True)
        live = (await revisions.published(session))["hiv_prep"]
    assert report.imported == ["hiv_prep"]
    assert (live.number, live.origin, live.body["answer"]["en"]) == (3, "files", "edited in git")


def test_a_body_round_trips_to_the_item(content: ContentStore) -> None:
    body = revisions.body_of(content.topics["hiv_prep"], ["what is prep"])
    assert revisions.item_of("topic", body) == content.topics["hiv_prep"]
    assert revisions.examples_of(body) == ["what is prep"]
    greet = revisions.body_of(content.conversation["greet"], [])
    assert revisions.item_of("conversation", greet) == content.conversation["greet"]


async def concurrent_imports(url: str) -> tuple[int, int, int]:
    """Three processes starting at once each import the files; each item is published once."""
    await upgrade(url)
    engines = [create_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(
            *(
                import_files(session_factory(e), paths.CONTENT_DIR, paths.NLU_DATA_DIR)
                for e in engines
            )
        )
        async with session_factory(engines[0])() as session:
            rows = list(await session.scalars(select(ContentRevisionDB)))
            version = await revisions.content_version(session)
    finally:
        for engine in engines:
            await engine.dispose()
    return len(rows), len({r.item for r in rows}), version


async def test_concurrent_imports_on_sqlite_publish_each_item_once(tmp_path: Path) -> None:
    count, items, version = await concurrent_imports(f"sqlite:///{tmp_path / 'h.db'}")
    assert count == items == version == 27


async def test_concurrent_imports_on_postgres_publish_each_item_once(postgres_url: str) -> None:
    count, items, version = await concurrent_imports(postgres_url)
    assert count == items == version == 27


async def test_a_missing_counter_row_is_made_and_counts(
    sessions: async_sessionmaker[AsyncSession], items: Any
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(delete(ContentStateDB))
    await seed(sessions, items)
    async with sessions() as session:
        assert await revisions.content_version(session) == len(items)
