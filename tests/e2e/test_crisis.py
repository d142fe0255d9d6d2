"""End to end: a crisis conversation through the real `healthbot run` process (issue 16).

A check-in for a joke-marked disclosure, "yes", the honest answer when no counsellor is on duty,
"is anyone there?", "I'm safe now", the coil that is not a crisis, and an overdose with a
counsellor on duty; nothing the young person wrote reaches the logs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_counsellor import STAFF, YOUNG, Bot, bot, press, say, to
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e
__all__ = ["bot"]  # the fixture, shared with the counsellor test


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def test_a_crisis_conversation_with_nobody_on_duty(bot: tuple[BotApiEmulator, Bot]) -> None:
    emulator, runner = bot
    runner.start()
    emulator.push_update(say(YOUNG, "/start", 1))
    emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 1, timeout=90)
    emulator.push_update(press(YOUNG, "lang:en"))
    emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 2)

    emulator.push_update(say(YOUNG, "i just want to die lol", 2))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 3)
    check_in = to(sent, YOUNG)[2]
    assert "are you thinking of ending your life" in check_in["text"].lower()
    assert buttons(check_in) == ["chk:yes:suicide", "chk:no:suicide"]

    emulator.push_update(press(YOUNG, "chk:yes:suicide"))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 4)
    answer = to(sent, YOUNG)[3]["text"]
    assert answer.startswith("📞") and "1199" in answer and "1190" in answer
    assert "No counsellor is online right now" in answer and "has been alerted" not in answer

    emulator.push_update(say(YOUNG, "hello?? is anyone there", 3))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 5)
    there = to(sent, YOUNG)[4]["text"]
    assert "automatic helper" in there and "no counsellor is online" in there
    assert "Welcome" not in there

    emulator.push_update(say(YOUNG, "I'm safe now", 4))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 6)
    assert "glad you're safe" in to(sent, YOUNG)[5]["text"]

    emulator.push_update(say(YOUNG, "nataka kuweka kitanzi", 5))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 7)
    coil = to(sent, YOUNG)[6]
    assert "1199" not in coil["text"] and not any(b.startswith("chk:") for b in buttons(coil))

    runner.stop()
    for secret in ("424242421", "Wanjiru", "die lol", "anyone there", "kitanzi"):
        assert secret not in runner.output, f"{secret!r} leaked into the logs"


def test_an_overdose_with_a_counsellor_on_duty(bot: tuple[BotApiEmulator, Bot]) -> None:
    emulator, runner = bot
    runner.cli("counsellors", "add", "--telegram-id", str(STAFF["id"]), "--name", "Asha")
    runner.start()
    emulator.push_update(say(STAFF, "/duty on", 1))
    emulator.wait_for(lambda sent: len(to(sent, STAFF)) >= 1, timeout=90)

    emulator.push_update(say(YOUNG, "I took 20 panadol an hour ago", 1))
    sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 1 and len(to(sent, STAFF)) >= 2)
    answer = to(sent, YOUNG)[0]["text"]
    assert "even if you feel fine" in answer and "packet" in answer
    assert "A counsellor has been alerted" in answer and "number 1 in the queue" in answer
    alert = to(sent, STAFF)[1]["text"]
    assert "URGENT" in alert and "overdose" in alert and "panadol" not in alert
    runner.stop()
