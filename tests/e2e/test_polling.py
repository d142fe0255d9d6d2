"""End to end: the real `healthbot run` process, polling a local Bot API emulator over HTTP."""

from __future__ import annotations

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
USER = {"id": 424242421, "is_bot": False, "first_name": "Wanjiru", "username": "wanjiru_k"}
CHAT = {"id": 424242421, "first_name": "Wanjiru", "username": "wanjiru_k", "type": "private"}


def message(text: str, message_id: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id,
        "date": 1763877600,
        "from": USER,
        "chat": CHAT,
        "text": text,
    }
    if text.startswith("/"):
        body["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"message": body}


def press(data: str) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": f"cb-{data}",
            "chat_instance": "77",
            "from": USER,
            "data": data,
            "message": {"message_id": 1, "date": 1763877600, "chat": CHAT, "text": "menu"},
        }
    }


def keyboard(sent: dict[str, Any]) -> list[str]:
    markup = sent.get("reply_markup") or {"inline_keyboard": []}
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]


@pytest.fixture
def bot_process(tmp_path: Path) -> Iterator[tuple[BotApiEmulator, subprocess.Popen[str]]]:
    with BotApiEmulator() as emulator:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'healthbot.db'}",
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
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout:
                process.stdout.close()


def test_a_young_person_starts_asks_and_presses_a_button(
    bot_process: tuple[BotApiEmulator, subprocess.Popen[str]],
) -> None:
    emulator, process = bot_process
    emulator.push_update(message("/start", 1))
    [welcome] = emulator.wait_for(lambda sent: len(sent) >= 1, timeout=60)
    assert "Habari!" in welcome["text"] and welcome["parse_mode"] == "HTML"
    assert keyboard(welcome) == ["lang:en", "lang:sw"]
    assert "setMyCommands" in emulator.methods()

    emulator.push_update(press("lang:en"))
    emulator.wait_for(lambda sent: len(sent) >= 2)
    emulator.push_update(message("how do i get tested for hiv", 2))
    sent = emulator.wait_for(lambda sent: len(sent) >= 3)
    answer = sent[2]
    assert "<b>Getting tested for HIV</b>" in answer["text"]
    assert "Was this helpful?" in answer["text"]
    buttons = keyboard(answer)
    assert buttons[0].startswith("fb:") and "more:hiv_testing" in buttons and buttons[-1] == "menu"

    emulator.push_update(press("more:hiv_testing"))
    sent = emulator.wait_for(lambda sent: len(sent) >= 4)
    assert "who.int" in sent[3]["text"]
    assert "answerCallbackQuery" in emulator.methods()

    emulator.push_update(message("nataka kujiua", 3))
    sent = emulator.wait_for(lambda sent: len(sent) >= 5)
    assert "1199" in sent[4]["text"] and "safe" in keyboard(sent[4])

    emulator.push_update(message("/exit", 4))
    sent = emulator.wait_for(lambda sent: len(sent) >= 6)
    deleted = [p["message_ids"] for name, p in emulator.calls if name == "deleteMessages"]
    assert deleted and {1, 2, 3, 4} <= set(deleted[0]), "the young person's messages too"
    assert {s["message_id"] for s in sent[:5]} <= set(deleted[0]), "and every bot message"
    assert "reply_markup" not in sent[5]

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output[-2000:]
    for secret in ("424242421", "Wanjiru", "wanjiru_k", "tested for hiv", "kujiua", emulator.token):
        assert secret not in output, f"{secret!r} leaked into the logs"


def test_find_a_service_with_a_shared_location(
    bot_process: tuple[BotApiEmulator, subprocess.Popen[str]],
) -> None:
    emulator, process = bot_process
    emulator.push_update(message("/start", 1))
    emulator.wait_for(lambda sent: len(sent) >= 1, timeout=60)
    emulator.push_update(press("lang:en"))
    emulator.wait_for(lambda sent: len(sent) >= 2)
    emulator.push_update(press("ask:find_service"))
    sent = emulator.wait_for(lambda sent: len(sent) >= 3)
    assert "svc:hiv_testing" in keyboard(sent[2])
    emulator.push_update(press("svc:hiv_testing"))
    sent = emulator.wait_for(lambda sent: len(sent) >= 4)
    assert sent[3]["reply_markup"]["keyboard"][0][0]["request_location"] is True
    pin = {"latitude": -0.527312, "longitude": 34.457133}
    emulator.push_update(
        {
            "message": {
                "message_id": 2,
                "date": 1763877600,
                "from": USER,
                "chat": CHAT,
                "location": pin,
            }
        }
    )
    sent = emulator.wait_for(lambda sent: len(sent) >= 5)
    assert "km away" in sent[4]["text"] and "Homa Bay" in sent[4]["text"]
    assert "near:hiv_testing:-0.527,34.457,5" in keyboard(sent[4])

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output[-2000:]
    for secret in ("424242421", "Wanjiru", "-0.527", "34.457", emulator.token):
        assert secret not in output, f"{secret!r} leaked into the logs"
