"""Run Alembic migrations programmatically against a plain database URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bot.db.session import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that uses an open connection instead of an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision` (idempotent)."""
    await _run(url, lambda conn: command.upgrade(alembic_config(conn), revision))


async def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema down to `revision`."""
    await _run(url, lambda conn: command.downgrade(alembic_config(conn), revision))


async def current_revision(url: str) -> str | None:
    """Return the revision the database is at, or None when it is empty."""
    from alembic.runtime.migration import MigrationContext

    result: list[str | None] = []

    def read(conn: Connection) -> None:
        result.append(MigrationContext.configure(conn).get_current_revision())

    await _run(url, read)
    return result[0]


# any constant: the PostgreSQL advisory lock that lets one process at a time migrate
MIGRATION_LOCK = 4_815_162_342


async def _run(url: str, action: object) -> None:
    """Run `action` in one transaction; processes starting together migrate one after another.

    On PostgreSQL a transaction-scoped advisory lock serialises them (the second then finds the
    schema current). On SQLite foreign keys are off while migrating, as Alembic's batch mode needs:
    rebuilding a table must not cascade into the rows that refer to it.
    """
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(action)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()
