"""End to end: a young person and a counsellor on Telegram, the real bot process, a restart."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e
YOUNG = {"id": 424242421, "is_bot": False, "first_name": "Wanjiru", "username": "wanjiru_k"}
STAFF = {"id": 777000111, "is_bot": False, "first_name": "Asha", "username": "asha_counsels"}


def chat(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "first_name": user["first_name"], "type": "private"}


def say(user: dict[str, Any], text: str, message_id: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id,
        "date": 1763877600,
        "from": user,
        "chat": chat(user),
        "text": text,
    }
    if text.startswith("/"):
        body["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"message": body}


def press(user: dict[str, Any], data: str) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": f"cb-{data}",
            "chat_instance": "77",
            "from": user,
            "data": data,
            "message": {"message_id": 1, "date": 1763877600, "chat": chat(user), "text": "x"},
        }
    }


def to(sent: list[dict[str, Any]], user: dict[str, Any]) -> list[dict[str, Any]]:
    """What the bot sent to one chat, the text as the person reads it."""
    mine = [s for s in sent if str(s["chat_id"]) == str(user["id"])]
    return [{**s, "text": html.unescape(s["text"])} for s in mine]


class Bot:
    """The real `healthbot run` process in a folder, restartable."""

    def __init__(self, folder: Path, emulator: BotApiEmulator) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(folder)),
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url,
            "DATABASE_URL": f"sqlite:///{folder / 'data' / 'healthbot.db'}",
            "HEALTHBOT_SECRET": "e2e-secret-0123456789abcdef",
            "LOG_LEVEL": "DEBUG",
            "COUNSELLOR_HOURS": "00:00-24:00",  # whatever the time when the tests run
        }
        self.folder = folder
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, output[-2000:]
        self.output += output
        self.process = None


def queue_a_request(emulator: BotApiEmulator, language: str) -> list[dict[str, Any]]:
    """The counsellor goes on duty; the young person starts, chooses `language` and asks for a
    counsellor (a case waits in the queue). Returns everything sent so far."""
    emulator.push_update(say(STAFF, "/duty on", 1))
    emulator.wait_for(lambda sent: len(to(sent, STAFF)) >= 1, timeout=90)
    emulator.push_update(say(YOUNG, "/start", 1))
    emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 1)
    emulator.push_update(press(YOUNG, f"lang:{language}"))
    emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 2)
    emulator.push_update(press(YOUNG, "ask:talk_to_counsellor"))
    return emulator.wait_for(lambda sent: len(to(sent, STAFF)) >= 2 and len(to(sent, YOUNG)) >= 3)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[BotApiEmulator, Bot]]:
    with BotApiEmulator() as emulator:
        runner = Bot(tmp_path, emulator)
        try:
            yield emulator, runner
        finally:
            if runner.process is not None and runner.process.poll() is None:
                runner.process.kill()
                runner.process.communicate()


def test_request_alert_claim_messages_both_ways_restart_close_and_rating(
    bot: tuple[BotApiEmulator, Bot],
) -> None:
    emulator, runner = bot
    assert "777000111" in runner.cli(
        "counsellors", "add", "--telegram-id", "777000111", "--name", "Asha"
    )
    runner.start()
    sent = queue_a_request(emulator, "en")
    assert "number 1 in the queue" in to(sent, YOUNG)[2]["text"]
    alert = to(sent, STAFF)[1]["text"]
    assert "Case 1" in alert and "Wanjiru" not in alert and "424242421" not in alert

    emulator.push_update(say(STAFF, "/next", 2))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 4)
    assert "A counsellor has joined" in to(sent, YOUNG)[3]["text"]
    assert "Asha" not in to(sent, YOUNG)[3]["text"]
    emulator.push_update(say(YOUNG, "hello, i need someone to talk to", 2))
    sent = emulator.wait_for(
        lambda sent: any("i need someone" in s["text"] for s in to(sent, STAFF))
    )

    runner.stop()  # a restart with the case active: nothing may be lost
    runner.start()
    emulator.push_update(say(STAFF, "I'm here. What's on your mind?", 3))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 5, timeout=90)
    assert "What's on your mind?" in to(sent, YOUNG)[4]["text"]
    emulator.push_update(say(STAFF, "/close talked it through", 4))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 6)
    rating = to(sent, YOUNG)[5]
    buttons = [b["callback_data"] for row in rating["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"rate:1:{n}" for n in range(1, 6)]
    emulator.push_update(press(YOUNG, "rate:1:4"))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 7)
    assert "Thank you" in to(sent, YOUNG)[6]["text"]

    runner.stop()
    for secret in ("424242421", "Wanjiru", "wanjiru_k", "someone to talk to", "on your mind"):
        assert secret not in runner.output, f"{secret!r} leaked into the logs"


def test_unregistered_users_cannot_use_counsellor_commands(
    bot: tuple[BotApiEmulator, Bot],
) -> None:
    emulator, runner = bot
    runner.start()
    emulator.push_update(say(YOUNG, "/queue", 1))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 1, timeout=90)
    assert to(sent, YOUNG)[0]["text"] == "That command isn't available."
    runner.stop()
