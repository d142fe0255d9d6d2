"""The production database roles on a real PostgreSQL: deploy/postgres-init makes them, the owner
migrates (`healthbot db upgrade` with MIGRATION_DATABASE_URL), the app role runs the bot and
cannot change the schema.

Roles belong to the whole cluster, so each test makes its own with unique names and drops them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot import paths
from bot.config import Settings
from bot.db.migrate import current_revision, upgrade
from bot.db.session import create_engine
from bot.runtime import prepare
from tests.conftest import SECRET, run_in_new_loop
from tests.factories import text

pytestmark = pytest.mark.postgres

INIT_SCRIPT = paths.PROJECT_ROOT / "deploy" / "postgres-init" / "10-healthbot-roles.sh"


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password="unused-trust-auth").render_as_string(False)


def _run_init_script(postgres_url: str, owner: str, app: str) -> None:
    url = make_url(postgres_url)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.database or "",
        "HEALTHBOT_DB_OWNER": owner,
        "HEALTHBOT_DB_APP": app,
        "POSTGRES_OWNER_PASSWORD": "owner-password-for-the-test",
        "POSTGRES_APP_PASSWORD": "app-password-for-the-test",
    }
    done = subprocess.run(
        ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def roles(postgres_url: str) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:10]
    owner, app = f"hb_owner_{suffix}", f"hb_app_{suffix}"
    try:
        _run_init_script(postgres_url, owner, app)
        _run_init_script(postgres_url, owner, app)  # a second run changes nothing and fails not
        yield Roles(owner, app, _as(postgres_url, owner), _as(postgres_url, app))
    finally:
        admin = make_url(postgres_url)
        database = admin.database
        dsn = admin.set(drivername="postgresql", database="postgres").render_as_string(False)

        async def drop() -> None:
            connection = await asyncpg.connect(dsn)
            try:
                # the owner owns the database: it goes first, taking the grants with it
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                for role in (app, owner):
                    await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
            finally:
                await connection.close()

        run_in_new_loop(drop())


def healthbot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_owner_migrates_and_the_app_role_runs_a_conversation(
    roles: Roles, tmp_path: Path
) -> None:
    # `healthbot db upgrade` as in compose's migrate service: DATABASE_URL is the app role's
    done = healthbot(
        "db",
        "upgrade",
        cwd=tmp_path,
        HEALTHBOT_SECRET=SECRET,
        DATABASE_URL=roles.app_url,
        MIGRATION_DATABASE_URL=roles.owner_url,
    )
    assert done.returncode == 0, done.stderr
    assert await current_revision(roles.app_url) == done.stdout.strip() != "(empty)"

    # the bot starting as the app role: its own upgrade finds the schema current; content import
    runtime = await prepare(Settings(healthbot_secret=SECRET, database_url=roles.app_url))
    try:
        for message in ("hi", "1", "how do i get tested for hiv"):
            replies = await runtime.dialogue.handle(text(message))
        assert "Getting tested for HIV" in replies[0].text
    finally:
        await runtime.close()

    engine = create_engine(roles.app_url)
    try:
        async with engine.connect() as connection:
            who = await connection.execute(
                sql(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            )
            assert who.one() == (False, False, False)
            owners = await connection.scalars(
                sql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
            )
            assert set(owners) == {roles.owner}
            assert await connection.scalar(sql("SELECT count(*) FROM messages")) >= 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE stolen (id int)",
        "DROP TABLE messages",
        "ALTER TABLE users ADD COLUMN stolen text",
        "TRUNCATE messages",
        "CREATE TEMPORARY TABLE stolen (id int)",
        "DROP TABLE alembic_version",
    ],
)
async def test_the_app_role_cannot_change_the_schema(roles: Roles, statement: str) -> None:
    await upgrade(roles.owner_url)
    engine = create_engine(roles.app_url)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as refused:
                await connection.execute(sql(statement))
        message = str(refused.value.orig)
        assert "permission denied" in message or "must be owner" in message, message
    finally:
        await engine.dispose()


async def test_tables_a_later_migration_creates_are_open_to_the_app_role(roles: Roles) -> None:
    await upgrade(roles.owner_url)
    owner = create_engine(roles.owner_url)
    app = create_engine(roles.app_url)
    try:
        async with owner.begin() as connection:
            await connection.execute(sql("CREATE TABLE later (id serial PRIMARY KEY, v text)"))
        async with app.begin() as connection:
            await connection.execute(sql("INSERT INTO later (v) VALUES ('x')"))
            await connection.execute(sql("UPDATE later SET v = 'y'"))
            assert await connection.scalar(sql("SELECT v FROM later")) == "y"
            await connection.execute(sql("DELETE FROM later"))
    finally:
        await owner.dispose()
        await app.dispose()


def test_the_app_role_cannot_migrate(roles: Roles) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        run_in_new_loop(upgrade(roles.app_url))
