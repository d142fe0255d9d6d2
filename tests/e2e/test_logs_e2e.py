"""End to end: a whole conversation with the real bot at LOG_LEVEL=DEBUG and LOG_FORMAT=json.

Every line the process writes must be a JSON log line, and none may carry anything of the young
person or the counsellor: ids, names, usernames, the words they typed, a phone number, a place,
a shared location, the bot token.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.privacy import pseudonymise
from tests.e2e.test_counsellor import Bot, chat, press, say, to
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e

TOKEN = "7012345678:AAHk3vXq9ZbLwTmN4pRs8YcUe2FgJdKo1Wi"  # shaped like a real one
YOUNG = {
    "id": 5550001234,
    "is_bot": False,
    "first_name": "Nyokabi",
    "last_name": "Wambui-Otieno",
    "username": "nyokabi_w254",
    "language_code": "sw",
}
STAFF = {
    "id": 6660009876,
    "is_bot": False,
    "first_name": "Zawadi",
    "last_name": "Kiprotich",
    "username": "zawadi_counsels",
}
STAFF_NAME = "Zawadi Kiprotich"  # as registered with `healthbot counsellors add`
PIN = {"latitude": -0.091702, "longitude": 34.767956}  # Kisumu

PHOTO = {"file_id": "AgACAgQAAxkBAAIBZW", "file_unique_id": "AQADr8ZRGg", "width": 90, "height": 90}
STICKER = {
    "file_id": "CAACAgQAAxkBAAIBY2",
    "file_unique_id": "AgADYwADr8ZRGg",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "😀",
}

QUESTION = "can I get PrEP in Kisumu?"
PLACE = "Githurai"
CAPTION = "is this rash normal?"
PHONE_LINE = "my number is 0712345678"
CRISIS = "I want to kill myself"
RELAYED = "my number is 0712345678, call me after school"
KISWAHILI = "nimeogopa kupima ukimwi, nisaidie"
REPLY = "Pole sana, I am here with you"
NOTE = "/note lives near Githurai market"
CLOSE = "/close referred to youth clinic"

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class LoggedBot(Bot):
    """The real bot with its output in a file: a pipe nobody reads would stall a chatty process."""

    def start(self) -> None:
        log = (self.folder / "bot.log").open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()  # the child has its own copy

    def stop(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        self.output = (self.folder / "bot.log").read_text()
        assert self.process.returncode == 0, self.output[-2000:]
        self.process = None


class Conversation:
    """Push an update and wait for the bot's next message to one chat that holds `expect`."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.emulator = emulator
        self.typed: list[str] = []  # every text a person typed, to look for in the logs
        self.message_id = 100

    def send(
        self, user: dict[str, Any], update: dict[str, Any], expect: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        before = len(to(self.emulator.wait_for(lambda _sent: True), user))

        def arrived(sent: list[dict[str, Any]]) -> bool:
            return any(expect in m["text"] for m in to(sent, user)[before:])

        self.emulator.push_update(update)
        sent = self.emulator.wait_for(arrived, timeout=timeout)
        return next(m for m in to(sent, user)[before:] if expect in m["text"])

    def say(
        self,
        user: dict[str, Any],
        text: str,
        expect: str,
        *,
        to_user: dict[str, Any] | None = None,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        self.typed.append(text)
        self.message_id += 1
        return self.send(to_user or user, say(user, text, self.message_id), expect, timeout)

    def message(self, user: dict[str, Any], expect: str, **content: Any) -> dict[str, Any]:
        self.message_id += 1
        body = {"message_id": self.message_id, "date": 1763877600, "from": user, **content}
        return self.send(user, {"message": {**body, "chat": chat(user)}}, expect)


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def secrets(typed: list[str], healthbot_secret: str) -> list[str]:
    """Everything that must never reach a log line."""
    people = [
        str(person[key])
        for person in (YOUNG, STAFF)
        for key in ("id", "first_name", "last_name", "username")
    ]
    pseudonyms = [
        pseudonymise(healthbot_secret, "telegram", person["id"]) for person in (YOUNG, STAFF)
    ]
    fragments = [
        "PrEP in Kisumu",
        "Kisumu",
        PLACE,
        "rash normal",
        "0712345678",
        "712345678",
        "kill myself",
        "after school",
        "nimeogopa",
        "nisaidie",
        "here with you",
        "Githurai market",
        "youth clinic",
        STAFF_NAME,
        "Wambui",
        "Otieno",
    ]
    coordinates = [
        f"{PIN['latitude']}",
        f"{PIN['longitude']}",
        "-0.0917",
        "0.09170",
        "-0.092",
        "34.76",
        "34.768",
        "34.7680",
        "34.7679",
    ]
    keys = [TOKEN, TOKEN.split(":", 1)[1], healthbot_secret]
    return [*people, *pseudonyms, *typed, *fragments, *coordinates, *keys]


@pytest.fixture
def conversation(tmp_path: Path) -> Iterator[tuple[Conversation, LoggedBot, list[str]]]:
    """The bot running with JSON logs at DEBUG, a counsellor registered; yields the CLI's logs."""
    with BotApiEmulator(token=TOKEN) as emulator:
        runner = LoggedBot(tmp_path, emulator)
        runner.env |= {"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
        register = ["counsellors", "add", "--telegram-id", str(STAFF["id"]), "--name", STAFF_NAME]
        added = subprocess.run(
            [sys.executable, "-m", "bot.cli", *register],
            cwd=tmp_path,
            env=runner.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        try:
            yield Conversation(emulator), runner, [added.stderr]
        finally:
            if runner.process is not None and runner.process.poll() is None:
                runner.process.kill()
                runner.process.wait()
            log = tmp_path / "bot.log"
            if log.exists():  # shown when the test fails
                print(log.read_text()[-5000:])


def test_a_whole_conversation_leaves_no_personal_data_in_the_json_logs(
    conversation: tuple[Conversation, LoggedBot, list[str]],
) -> None:
    talk, runner, outputs = conversation
    runner.start()
    talk.say(STAFF, "/duty on", "You are on duty", timeout=120)  # the first start trains NLU

    welcome = talk.say(YOUNG, "/start", "Habari")
    assert buttons(welcome) == ["lang:en", "lang:sw"]
    talk.send(YOUNG, press(YOUNG, "lang:en"), "English")

    answer = talk.say(YOUNG, QUESTION, "PrEP")
    assert "Near Kisumu" in answer["text"], "the typed place was searched"

    talk.send(YOUNG, press(YOUNG, "ask:find_service"), "Which service")
    talk.send(YOUNG, press(YOUNG, "svc:hiv_testing"), "Where are you?")
    found = talk.say(YOUNG, PLACE, "km away")
    assert f"Near {PLACE}" in found["text"]

    asked = talk.message(YOUNG, "Which service", location=PIN)
    [near] = [b for b in buttons(asked) if b.startswith("svc:hiv_testing:")]
    results = talk.send(YOUNG, press(YOUNG, near), "km away")
    [more] = [b for b in buttons(results) if b.startswith("near:")]
    talk.send(YOUNG, press(YOUNG, more), "km away")

    talk.typed.append(CAPTION)
    talk.message(YOUNG, "only read text", photo=[PHOTO], caption=CAPTION)
    talk.message(YOUNG, "only read text", sticker=STICKER)

    talk.say(YOUNG, PHONE_LINE, "")
    safety = talk.say(YOUNG, CRISIS, "1199")
    assert "safe" in buttons(safety) and buttons(safety)[-1] == "menu"
    talk.emulator.wait_for(lambda sent: any("URGENT" in m["text"] for m in to(sent, STAFF)))
    talk.say(YOUNG, "/privacy", "Your privacy matters")
    talk.say(YOUNG, "/help", "/language")

    talk.send(YOUNG, press(YOUNG, "ask:talk_to_counsellor"), "queue")
    talk.say(STAFF, "/next", "A counsellor has joined", to_user=YOUNG)
    talk.say(YOUNG, RELAYED, "call me after school", to_user=STAFF)
    talk.say(STAFF, REPLY, "here with you", to_user=YOUNG)
    talk.say(STAFF, NOTE, "Note added")
    rating = talk.say(STAFF, CLOSE, "How was it?", to_user=YOUNG)
    talk.send(YOUNG, press(YOUNG, buttons(rating)[3]), "Thank you")
    swahili = talk.say(YOUNG, KISWAHILI, "HIV")
    assert "fb:" in buttons(swahili)[0], "the Kiswahili question got a topic answer"

    runner.stop()
    outputs.append(runner.output)
    entries = [parse(line) for output in outputs for line in output.splitlines() if line]
    messages = [entry["message"] for entry, _ in entries]
    assert any(m.startswith("ready in ") for m in messages), messages
    assert "Application started" in messages, messages

    forbidden = secrets(talk.typed, runner.env["HEALTHBOT_SECRET"])
    for entry, line in entries:
        # the raw line and its decoded values (a \u escape hides nothing), all but the clock
        values = " ".join(str(value) for key, value in entry.items() if key != "time")
        haystack = line.replace(entry["time"], "") + "\n" + values
        for secret in forbidden:
            assert secret not in haystack, f"{secret!r} leaked into the logs: {line}"


def parse(line: str) -> tuple[dict[str, Any], str]:
    """One log line: JSON with time (ISO 8601, UTC), level, logger and message."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        pytest.fail(f"not a JSON log line: {line!r}")
    assert isinstance(entry, dict), line
    assert {"time", "level", "logger", "message"} <= set(entry), line
    assert TIME.fullmatch(entry["time"]) and entry["level"] in LEVELS, line
    assert isinstance(entry["logger"], str) and isinstance(entry["message"], str), line
    return entry, line
