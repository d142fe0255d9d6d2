"""`healthbot users add|list|remove`, run as a real process against a SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.web.accounts import verify_password
from tests.test_cli import healthbot

PASSWORD = "correct horse battery"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(
        f"HEALTHBOT_SECRET=cli-secret-0123456789\nDATABASE_URL=sqlite:///{tmp_path}/data/h.db\n"
    )
    return tmp_path


def rows(workdir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(workdir / "data" / "h.db") as db:
        return db.execute(sql).fetchall()


def test_add_list_and_remove_users(workdir: Path) -> None:
    done = healthbot("users", "list", cwd=workdir)
    assert (done.returncode, done.stdout) == (0, "(no users)\n"), done.stderr

    done = healthbot(
        "users", "add", "--username", "amina", "--role", "editor", cwd=workdir, stdin=PASSWORD
    )
    assert (done.returncode, done.stdout) == (0, "user amina added: editor\n"), done.stderr
    done = healthbot(
        "users", "add", "--username", "brian", "--role", "counsellor", cwd=workdir, stdin=PASSWORD
    )
    assert done.stdout == "user brian added: counsellor, counsellor 1\n"
    again = "a brand new password\nignored second line\n"
    done = healthbot(
        "users", "add", "--username", "amina", "--role", "reviewer", cwd=workdir, stdin=again
    )
    assert done.stdout == "user amina updated: reviewer\n"
    assert PASSWORD not in done.stdout + done.stderr and "brand new" not in done.stdout

    done = healthbot("users", "list", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1\tamina\treviewer\tlast login never",
        "2\tbrian\tcounsellor\tlast login never",
    ]
    hashes = {
        str(u): str(h) for u, h in rows(workdir, "SELECT username, password_hash FROM web_users")
    }
    assert verify_password(hashes["amina"], "a brand new password"), "only the first line"
    assert verify_password(hashes["brian"], PASSWORD)
    assert rows(workdir, "SELECT web_user_id, telegram_id, name FROM counsellors") == [
        (2, None, "brian")
    ]

    done = healthbot("users", "remove", "--username", "brian", cwd=workdir)
    assert (done.returncode, done.stdout) == (0, "user brian removed\n"), done.stderr
    done = healthbot("users", "remove", "--username", "brian", cwd=workdir)
    assert done.returncode == 1
    assert done.stdout == "" and "no user brian" in done.stderr
    assert rows(workdir, "SELECT count(*) FROM counsellors") == [(0,)]
    assert rows(workdir, "SELECT actor, action, target, detail FROM audit_log ORDER BY id") == [
        ("cli", "user.add", "user amina", "role editor"),
        ("cli", "user.add", "user brian", "role counsellor"),
        ("cli", "user.update", "user amina", "role reviewer"),
        ("cli", "user.remove", "user brian", ""),
    ]
    assert healthbot("db", "current", cwd=workdir).stdout.strip() == "0008"


@pytest.mark.parametrize(
    ("username", "stdin", "message"),
    [
        ("amina", "too short\n", "The password needs at least 12 characters."),
        ("amina", "", "The password needs at least 12 characters."),
        ("Amina", PASSWORD, "A username needs 3 to 64 characters"),
        ("am", PASSWORD, "A username needs 3 to 64 characters"),
    ],
)
def test_a_short_password_or_a_bad_username_is_refused(
    workdir: Path, username: str, stdin: str, message: str
) -> None:
    done = healthbot(
        "users", "add", "--username", username, "--role", "admin", cwd=workdir, stdin=stdin
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"healthbot: {message}") and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (workdir / "data" / "h.db").exists(), "nothing is written"


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--username", "amina", "--role", "boss"),
        ("add", "--username", "amina"),
        ("add", "--role", "admin"),
        ("remove",),
    ],
)
def test_bad_arguments_are_refused_with_usage(workdir: Path, args: tuple[str, ...]) -> None:
    done = healthbot("users", *args, cwd=workdir, stdin=PASSWORD)
    assert done.returncode == 2
    assert "usage: healthbot users" in done.stderr and "Traceback" not in done.stderr
    assert not (workdir / "data" / "h.db").exists()
