"""After a whole conversation and /delete, no column of any table holds who the young person was.

The real `healthbot run` process polls a local Bot API emulator (the path production uses); the
database is then read table by table and column by column, enumerated from the database itself, so
a table or column added later is scanned too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, inspect, select, table

from bot.db.session import create_engine
from tests.conftest import run_in_new_loop
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e
TELEGRAM_ID = 731905517
FIRST_NAME = "Nyokabi"
USERNAME = "nyokabi_w7"
PLACE = "Lurambi"
TEXT = f"My name is {FIRST_NAME} Wambui, I live in {PLACE} near Kakamega, is PrEP free"
LATITUDE, LONGITUDE = -0.527312, 34.457133
USER = {"id": TELEGRAM_ID, "is_bot": False, "first_name": FIRST_NAME, "username": USERNAME}
CHAT = {"id": TELEGRAM_ID, "first_name": FIRST_NAME, "username": USERNAME, "type": "private"}
TRACES = (str(TELEGRAM_ID), FIRST_NAME, USERNAME, PLACE, "Wambui", "0.527312", "34.457133")


def message(message_id: int, **content: Any) -> dict[str, Any]:
    body = {"message_id": message_id, "date": 1763877600, "from": USER, "chat": CHAT, **content}
    text = content.get("text", "")
    if text.startswith("/"):
        body["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"message": body}


def press(data: str) -> dict[str, Any]:
    message = {"message_id": 1, "date": 1763877600, "chat": CHAT, "text": "menu"}
    return {
        "callback_query": {
            "id": f"cb-{data}",
            "chat_instance": "77",
            "from": USER,
            "data": data,
            "message": message,
        }
    }


def keyboard(sent: dict[str, Any]) -> list[str]:
    markup = sent.get("reply_markup") or {"inline_keyboard": []}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'data' / 'healthbot.db'}"


@pytest.fixture
def bot_process(
    tmp_path: Path, database_url: str
) -> Iterator[tuple[BotApiEmulator, subprocess.Popen[str]]]:
    with BotApiEmulator() as emulator:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url,
            "DATABASE_URL": database_url,
            "HEALTHBOT_SECRET": "e2e-secret-0123456789abcdef",
            "LOG_LEVEL": "DEBUG",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield emulator, process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()


async def _every_value(url: str) -> dict[str, list[str]]:
    """Every value of every column of every table, as text, by `table.column`."""
    engine = create_engine(url)
    found: dict[str, list[str]] = {}
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            for name in names:
                columns = await connection.run_sync(
                    lambda c, name=name: [c_["name"] for c_ in inspect(c).get_columns(name)]
                )
                rows = await connection.execute(select(table(name, *_columns(columns))))
                for row in rows:
                    for column, value in zip(columns, row, strict=True):
                        if value is not None:
                            shown = (
                                value if isinstance(value, str) else json.dumps(value, default=str)
                            )
                            found.setdefault(f"{name}.{column}", []).append(shown)
    finally:
        await engine.dispose()
    assert "telegram_updates.update_id" in found, sorted(found)
    return found


def _columns(names: list[str]) -> list[Any]:
    return [column(name) for name in names]


def test_no_column_of_any_table_keeps_the_young_person(
    bot_process: tuple[BotApiEmulator, subprocess.Popen[str]], database_url: str
) -> None:
    emulator, process = bot_process
    emulator.push_update(message(1, text="/start"))
    emulator.wait_for(lambda sent: len(sent) >= 1, timeout=60)
    emulator.push_update(press("lang:en"))
    emulator.wait_for(lambda sent: len(sent) >= 2)
    emulator.push_update(message(2, text=TEXT))
    emulator.wait_for(lambda sent: len(sent) >= 3)
    emulator.push_update(press("ask:find_service"))
    emulator.wait_for(lambda sent: len(sent) >= 4)
    emulator.push_update(press("svc:hiv_testing"))
    emulator.wait_for(lambda sent: len(sent) >= 5)
    emulator.push_update(message(3, location={"latitude": LATITUDE, "longitude": LONGITUDE}))
    sent = emulator.wait_for(lambda sent: len(sent) >= 6)
    assert "Homa Bay" in sent[5]["text"], "the location was used"
    emulator.push_update(message(4, text="/delete"))
    sent = emulator.wait_for(lambda sent: len(sent) >= 7)
    [yes] = [b for b in keyboard(sent[6]) if b.startswith("erase:yes")]
    emulator.push_update(press(yes))
    emulator.wait_for(lambda sent: len(sent) >= 8)

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output[-2000:]

    found = run_in_new_loop(_every_value(database_url))  # pytest-asyncio's loop left alone
    leaks = {
        where: trace
        for where, values in found.items()
        for value in values
        for trace in TRACES
        if trace.lower() in value.lower()
    }
    assert not leaks, f"kept after /delete: {leaks}"
