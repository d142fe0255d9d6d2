"""Migrations: upgrade from empty, downgrade, upgrade again, match the models; both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.migrate import current_revision, downgrade, upgrade
from bot.db.models import Base
from bot.db.session import create_engine

TABLES = {
    "users",
    "messages",
    "feedback",
    "cases",
    "channel_messages",
    "counsellors",
    "case_notes",
    "case_messages",
    "web_users",
    "audit_log",
    "content_revisions",
    "content_state",
    "unanswered",
    "referral_searches",
    "web_outbox",
    "telegram_updates",
    "ended_web_chats",
    "alembic_version",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _model_diff(url: str) -> list[object]:
    engine = create_engine(url)

    def compare(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def _round_trip(url: str) -> None:
    assert await current_revision(url) is None
    await upgrade(url)
    assert await current_revision(url) == "0008"
    assert await _tables(url) == TABLES
    assert await _model_diff(url) == [], "the migration and the models disagree"
    await upgrade(url)  # idempotent
    await downgrade(url, "base")
    assert await current_revision(url) is None
    assert await _tables(url) <= {"alembic_version"}
    await upgrade(url)
    assert await _tables(url) == TABLES


async def test_sqlite_migrations_round_trip(tmp_path: Path) -> None:
    await _round_trip(f"sqlite:///{tmp_path / 'sub' / 'healthbot.db'}")


@pytest.mark.postgres
async def test_postgres_migrations_round_trip(postgres_url: str) -> None:
    await _round_trip(postgres_url)


async def _cases_survive_0003(url: str) -> None:
    """0003 rebuilds `cases` on SQLite: existing cases must come through, up and down."""
    await upgrade(url, "0002")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, channel, state, state_data, created_at, last_seen_at)"
                    " VALUES ('u', 'telegram', 'idle', '{}', :now, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
            await conn.execute(
                text(
                    "INSERT INTO cases (user_id, channel, language, source, category, priority,"
                    " status, opened_at) VALUES ('u', 'telegram', 'sw', 'crisis', 'suicide',"
                    " 'urgent', 'waiting', :now)"
                ),
                {"now": datetime.now(UTC)},
            )
        await engine.dispose()  # asyncpg caches statements per connection; the schema changed
        await upgrade(url)
        async with engine.begin() as conn:
            row = (await conn.execute(text("SELECT * FROM cases"))).mappings().one()
            assert (row["user_id"], row["language"], row["category"]) == ("u", "sw", "suicide")
            assert row["counsellor_id"] is None and row["route"] is None
            await conn.execute(
                text(
                    "INSERT INTO counsellors (telegram_id, name, on_duty, created_at)"
                    " VALUES (5000000000, 'A', true, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
            await conn.execute(text("UPDATE cases SET counsellor_id = 1, status = 'active'"))
            await conn.execute(
                text(
                    "INSERT INTO case_messages (case_id, sender, text, created_at)"
                    " VALUES (1, 'young', 'hi', :now)"
                ),
                {"now": datetime.now(UTC)},
            )
        await engine.dispose()
        await downgrade(url, "0002")
        async with engine.begin() as conn:
            row = (await conn.execute(text("SELECT * FROM cases"))).mappings().one()
            assert (row["user_id"], row["status"]) == ("u", "active")
            assert "counsellor_id" not in row
    finally:
        await engine.dispose()


async def test_sqlite_cases_survive_the_0003_rebuild(tmp_path: Path) -> None:
    await _cases_survive_0003(f"sqlite:///{tmp_path / 'healthbot.db'}")


@pytest.mark.postgres
async def test_postgres_cases_survive_0003(postgres_url: str) -> None:
    await _cases_survive_0003(postgres_url)


async def _counsellors_survive_0004(url: str) -> None:
    """0004 rebuilds `counsellors` on SQLite: cases and notes keep their counsellor, both ways."""
    await upgrade(url, "0003")
    engine = create_engine(url)
    now = {"now": datetime.now(UTC)}
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, channel, state, state_data, created_at, last_seen_at)"
                    " VALUES ('u', 'telegram', 'idle', '{}', :now, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO counsellors (telegram_id, name, on_duty, created_at)"
                    " VALUES (5000000000, 'A', true, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO cases (user_id, channel, language, source, priority, status,"
                    " opened_at, counsellor_id) VALUES ('u', 'telegram', 'en', 'request',"
                    " 'normal', 'active', :now, 1)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO case_notes (case_id, counsellor_id, text, created_at)"
                    " VALUES (1, 1, 'called back', :now)"
                ),
                now,
            )
        await engine.dispose()
        await upgrade(url)
        async with engine.begin() as conn:
            assert await _links(conn) == (1, 1), "the rebuild kept the case's counsellor"
            await conn.execute(
                text(
                    "INSERT INTO web_users (username, password_hash, role, failed_logins,"
                    " created_at) VALUES ('bea', 'x', 'counsellor', 0, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO counsellors (web_user_id, name, on_duty, created_at)"
                    " VALUES (1, 'bea', false, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO cases (user_id, channel, language, source, priority, status,"
                    " opened_at, counsellor_id) VALUES ('u', 'telegram', 'en', 'request',"
                    " 'normal', 'active', :now, 2)"
                ),
                now,
            )
        await engine.dispose()
        await downgrade(url, "0003")
        async with engine.begin() as conn:
            assert await _links(conn) == (1, 1)
            rows = (await conn.execute(text("SELECT * FROM cases ORDER BY id"))).mappings().all()
            assert [(r["status"], r["counsellor_id"]) for r in rows] == [
                ("active", 1),
                ("waiting", None),
            ], "the web-only counsellor's case went back to the queue"
            names = (await conn.execute(text("SELECT name FROM counsellors"))).scalars().all()
            assert names == ["A"]
    finally:
        await engine.dispose()


async def _links(conn: AsyncConnection) -> tuple[int | None, int | None]:
    case = await conn.scalar(text("SELECT counsellor_id FROM cases WHERE id = 1"))
    note = await conn.scalar(text("SELECT counsellor_id FROM case_notes WHERE id = 1"))
    return case, note


async def test_sqlite_counsellors_survive_the_0004_rebuild(tmp_path: Path) -> None:
    await _counsellors_survive_0004(f"sqlite:///{tmp_path / 'healthbot.db'}")


@pytest.mark.postgres
async def test_postgres_counsellors_survive_0004(postgres_url: str) -> None:
    await _counsellors_survive_0004(postgres_url)


async def _notes_survive_0006(url: str) -> None:
    """0006 rebuilds `cases` on SQLite: notes and transcripts must not cascade away."""
    await upgrade(url, "0005")
    engine = create_engine(url)
    now = {"now": datetime.now(UTC)}
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, channel, state, state_data, created_at, last_seen_at)"
                    " VALUES ('u', 'telegram', 'idle', '{}', :now, :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO cases (user_id, channel, language, source, priority, status,"
                    " opened_at)"
                    " VALUES ('u', 'telegram', 'en', 'request', 'normal', 'active', :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO case_notes (case_id, text, created_at)"
                    " VALUES (1, 'called back', :now)"
                ),
                now,
            )
            await conn.execute(
                text(
                    "INSERT INTO case_messages (case_id, sender, text, created_at)"
                    " VALUES (1, 'young', 'hi', :now)"
                ),
                now,
            )
        await engine.dispose()
        await upgrade(url)
        async with engine.begin() as conn:
            notes = (await conn.execute(text("SELECT count(*) FROM case_notes"))).scalar()
            said = (await conn.execute(text("SELECT count(*) FROM case_messages"))).scalar()
            assert (notes, said) == (1, 1)
            await conn.execute(text("UPDATE cases SET user_id = NULL"))  # now allowed
            await conn.execute(text("DELETE FROM users"))
            assert (await conn.execute(text("SELECT count(*) FROM case_notes"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_sqlite_case_notes_survive_the_0006_rebuild(tmp_path: Path) -> None:
    await _notes_survive_0006(f"sqlite:///{tmp_path / 'healthbot.db'}")


@pytest.mark.postgres
async def test_postgres_case_notes_survive_0006(postgres_url: str) -> None:
    await _notes_survive_0006(postgres_url)


@pytest.mark.postgres
async def test_workers_starting_together_migrate_one_after_another(postgres_url: str) -> None:
    """Several bot processes upgrading an empty database at once: no "table already exists"."""
    await asyncio.gather(*(upgrade(postgres_url) for _ in range(4)))
    assert await current_revision(postgres_url) == "0008"
    assert await _tables(postgres_url) == TABLES


async def _insert_then_delete_last(url: str) -> str:
    """Insert a row in each table, delete it, insert again: "fresh" if every id was new."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    inserts = {
        "web_outbox": "INSERT INTO web_outbox (address, text, buttons, created_at)"
        " VALUES ('a', 't', '[]', :now)",
        "web_users": "INSERT INTO web_users (username, password_hash, role, failed_logins,"
        " created_at) VALUES (:name, 'h', 'admin', 0, :now)",
        "cases": "INSERT INTO cases (channel, language, source, priority, status, opened_at)"
        " VALUES ('web', 'en', 'request', 'normal', 'closed', :now)",
    }
    reused = []
    try:
        for table, insert in inserts.items():  # table names from the dict above
            async with engine.begin() as conn:
                params = {"now": now, "name": f"u{now.timestamp()}a"}
                await conn.execute(text(insert), params)
                first = (await conn.execute(text(f"SELECT max(id) FROM {table}"))).scalar_one()  # noqa: S608
                await conn.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": first})  # noqa: S608
                await conn.execute(text(insert), {**params, "name": f"u{now.timestamp()}b"})
                second = (await conn.execute(text(f"SELECT max(id) FROM {table}"))).scalar_one()  # noqa: S608
            if second <= first:
                reused.append(table)
    finally:
        await engine.dispose()
    return "fresh" if not reused else "reused: " + ", ".join(reused)


async def test_sqlite_ids_are_never_reused(tmp_path: Path) -> None:
    """0008: a deleted outbox row's, account's or case's id is never given to a new row.

    Without AUTOINCREMENT SQLite reuses the largest id once its row is deleted: the web chat
    page's cursor then skipped the next counsellor message, and a removed account's cookie opened
    the next account made.
    """
    url = f"sqlite:///{tmp_path / 'healthbot.db'}"
    await upgrade(url, "0007")
    assert await _insert_then_delete_last(url) == "reused: web_outbox, web_users, cases"
    await upgrade(url)
    assert await _insert_then_delete_last(url) == "fresh"


@pytest.mark.postgres
async def test_postgres_ids_are_never_reused(postgres_url: str) -> None:
    await upgrade(postgres_url)
    assert await _insert_then_delete_last(postgres_url) == "fresh"
