"""Migrations: upgrade from empty, downgrade, upgrade again, match the models; both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.db.migrate import current_revision, downgrade, upgrade
from bot.db.models import Base
from bot.db.session import create_engine

TABLES = {"users", "messages", "feedback", "cases", "channel_messages", "alembic_version"}


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
    assert await current_revision(url) == "0002"
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
