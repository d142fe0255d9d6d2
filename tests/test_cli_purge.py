"""`healthbot purge`, run as a real process on a database of its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.models import MessageDB, UserDB, utcnow
from bot.db.session import create_engine, session_factory
from tests.conftest import run_in_new_loop
from tests.test_cli import healthbot

TABLES = [
    "messages",
    "feedback",
    "case_messages",
    "case_routes",
    "cases_unlinked",
    "users",
    "case_notes",
    "cases",
    "audit_log",
    "channel_messages",
    "telegram_updates",
    "web_outbox",
    "ended_web_chats",
    "unanswered",
    "referral_searches",
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(
        "HEALTHBOT_SECRET=cli-secret-0123456789\n"
        f"DATABASE_URL=sqlite:///{tmp_path}/data/h.db\n"
        "RETENTION_DAYS=20\n"
    )
    return tmp_path


def counts(stdout: str) -> dict[str, int]:
    rows = [line.split("\t") for line in stdout.splitlines()]
    assert [table for table, _ in rows] == TABLES
    return {table: int(n) for table, n in rows}


def seed(url: str) -> None:
    """One young person seen today, with message records 10, 25 and 40 days old."""

    async def main() -> None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                now = utcnow()
                session.add(UserDB(id="a" * 64, channel="telegram", state="idle", state_data={}))
                await session.flush()
                session.add_all(
                    MessageDB(
                        user_id="a" * 64,
                        direction="in",
                        kind="text",
                        created_at=now - timedelta(days=days),
                    )
                    for days in (10, 25, 40)
                )
        finally:
            await engine.dispose()

    run_in_new_loop(main())


def left(url: str) -> int:
    async def main() -> int:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return len(list(await session.scalars(select(MessageDB.id))))
        finally:
            await engine.dispose()

    return run_in_new_loop(main())


def test_purge_prints_the_rows_deleted_per_table(workdir: Path) -> None:
    url = f"sqlite:///{workdir}/data/h.db"
    first = healthbot("purge", cwd=workdir)  # migrates an empty database: nothing to delete
    assert first.returncode == 0, first.stderr
    assert counts(first.stdout) == dict.fromkeys(TABLES, 0)
    seed(url)
    done = healthbot("purge", "--days", "30", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert counts(done.stdout) == {**dict.fromkeys(TABLES, 0), "messages": 1}
    assert left(url) == 2
    default = healthbot("purge", cwd=workdir)  # RETENTION_DAYS=20 from .env
    assert default.returncode == 0, default.stderr
    assert counts(default.stdout)["messages"] == 1 and left(url) == 1


@pytest.mark.parametrize("days", ["0", "-3", "ten", "4000"])
def test_purge_refuses_a_bad_number_of_days(workdir: Path, days: str) -> None:
    done = healthbot("purge", "--days", days, cwd=workdir)
    assert done.returncode == 2 and "number of days" in done.stderr
    assert not (workdir / "data" / "h.db").exists()
