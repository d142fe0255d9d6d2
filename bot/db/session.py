"""Engines and sessions from plain database URLs; the async driver is chosen here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

POOL_SIZE = 20  # PostgreSQL connections kept per process (two bots and the console stay under
POOL_OVERFLOW = 10  # PostgreSQL's default max_connections of 100 even at their peak)


def async_url(url: str) -> str:
    """Turn `sqlite:///x` or `postgresql://...` into the aiosqlite / asyncpg form."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; for SQLite, create the folder and turn on WAL and foreign keys.

    Errors never carry statement parameters (`hide_parameters`), so a logged traceback holds no
    message text.
    """
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite:
        # each turn commits or rolls back explicitly; the pool's extra ROLLBACK on check-in is
        # one more thread hop per turn for aiosqlite
        kwargs.setdefault("pool_reset_on_return", None)
    else:  # answering an update holds one connection at a time; 64 are answered at once
        kwargs.setdefault("pool_size", POOL_SIZE)  # with 5 kept, overflow ones churn (bench/load)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    # a failing statement's error names no parameters: case transcripts hold young people's words
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(async_url(url), **kwargs)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory the application passes around."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def autocommit(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncConnection]:
    """A Core connection whose statements each commit on their own, for writes that need no
    transaction: no BEGIN, no COMMIT and no ORM session, on the path of every message."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
