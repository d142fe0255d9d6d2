"""`healthbot counsellors add|list|remove`, run as a real process against a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import healthbot


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(
        f"HEALTHBOT_SECRET=cli-secret-0123456789\nDATABASE_URL=sqlite:///{tmp_path}/data/h.db\n"
    )
    return tmp_path


def test_add_list_and_remove_counsellors(workdir: Path) -> None:
    done = healthbot("counsellors", "list", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "(no counsellors)\n", "a fresh database is migrated first"

    done = healthbot(
        "counsellors", "add", "--telegram-id", "5123456789", "--name", "Amina", cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "counsellor 1 added: telegram id 5123456789, Amina\n"
    done = healthbot("counsellors", "add", "--telegram-id", "42", "--name", "Brian O.", cwd=workdir)
    assert done.stdout == "counsellor 2 added: telegram id 42, Brian O.\n"
    done = healthbot(
        "counsellors", "add", "--telegram-id", "5123456789", "--name", "Amina W.", cwd=workdir
    )
    assert done.stdout == "counsellor 1 updated: telegram id 5123456789, Amina W.\n"

    done = healthbot("counsellors", "list", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1\t5123456789\tAmina W.\toff duty",
        "2\t42\tBrian O.\toff duty",
    ]

    done = healthbot("counsellors", "remove", "--telegram-id", "5123456789", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "counsellor removed: telegram id 5123456789\n"
    done = healthbot("counsellors", "remove", "--telegram-id", "5123456789", cwd=workdir)
    assert done.returncode == 1
    assert done.stdout == "" and "no counsellor with telegram id 5123456789" in done.stderr
    assert healthbot("counsellors", "list", cwd=workdir).stdout.splitlines() == [
        "2\t42\tBrian O.\toff duty"
    ]
    assert healthbot("db", "current", cwd=workdir).stdout.strip() == "0008"


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--telegram-id", "abc", "--name", "X"),
        ("add", "--telegram-id", "-5", "--name", "X"),
        ("add", "--telegram-id", "0", "--name", "X"),
        ("add", "--telegram-id", "7", "--name", "   "),
        ("add", "--telegram-id", "7", "--name", "x" * 81),
        ("add", "--name", "X"),
        ("add", "--telegram-id", "7"),
        ("remove",),
    ],
)
def test_bad_arguments_are_refused_with_usage(workdir: Path, args: tuple[str, ...]) -> None:
    done = healthbot("counsellors", *args, cwd=workdir)
    assert done.returncode == 2
    assert "usage: healthbot counsellors" in done.stderr and "Traceback" not in done.stderr
    assert not (workdir / "data" / "h.db").exists(), "nothing is written"


def test_counsellors_need_the_secret_like_every_command(tmp_path: Path) -> None:
    done = healthbot("counsellors", "list", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("healthbot: HEALTHBOT_SECRET is not set")
