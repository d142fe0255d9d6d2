"""End to end: `healthbot run --webhook`, real processes, Telegram's deliveries played by a test.

Telegram posts each update to the webhook with the secret header and delivers it again until it
gets a 2xx. These tests do the same against one or two real bot processes sharing PostgreSQL, and
count what the bot sent to the Bot API emulator.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.browser.web import free_port
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e
SECRET = "webhook-secret_0123456789"
PATH = "/telegram/webhook"


def user(number: int) -> dict[str, Any]:
    return {"id": 910000000 + number, "is_bot": False, "first_name": f"Young{number}"}


def update(update_id: int, who: dict[str, Any], text: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": update_id,
        "date": 1763877600,
        "from": who,
        "chat": {"id": who["id"], "first_name": who["first_name"], "type": "private"},
        "text": text,
    }
    if text.startswith("/"):
        body["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"update_id": update_id, "message": body}


class Worker:
    """One `healthbot run --webhook` process."""

    def __init__(self, folder: Path, emulator: BotApiEmulator, database_url: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(folder)),
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url,
            "DATABASE_URL": database_url,
            "HEALTHBOT_SECRET": "e2e-secret-0123456789abcdef",
            "WEBHOOK_URL": f"https://bot.example.org{PATH}",
            "WEBHOOK_SECRET": SECRET,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_FORMAT": "json",
        }
        self.folder = folder
        self.log = folder / "worker.log"  # a file: a pipe nobody reads would stall a chatty bot
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--webhook"],
                cwd=folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stop()
            try:
                status, _ = get(self.url + "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the webhook worker did not become ready: {self.stop()[-3000:]}")

    def post(self, body: dict[str, Any], secret: str | None = SECRET) -> tuple[int, Any]:
        """POST an update; (status, the JSON answer)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        status, raw = request(self.url + PATH, json.dumps(body).encode(), headers)
        return status, json.loads(raw)

    def oversized(self, size: int) -> int:
        """Declare a body of `size` bytes, send its first 64 kB; the status the worker answers.

        The worker answers from the declared length without reading the body (and may close the
        connection before the rest arrives, so the rest is not sent).
        """
        host, port = self.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            head = (
                f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {size}\r\n\r\n"
            )
            connection.sendall(head.encode() + b"x" * (64 << 10))
            status_line = connection.makefile("rb").readline().decode()
        return int(status_line.split()[1])

    def deliver(self, body: dict[str, Any], timeout: float = 60) -> str:
        """Deliver like Telegram: again until a 2xx. Returns the outcome of the 2xx."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, answer = self.post(body)
            if status == 200:
                return str(answer["outcome"])
            assert status == 503, (status, answer)
            time.sleep(0.2)
        raise AssertionError("never acknowledged")

    def stop(self) -> str:
        """Stop the worker (SIGINT) and return everything it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        return self.log.read_text()


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    sent = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(sent, timeout=60) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get(url: str) -> tuple[int, str]:
    status, body = request(url)
    return int(status), str(body)


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


def replies_to(emulator: BotApiEmulator, who: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in emulator.sent if str(s["chat_id"]) == str(who["id"])]


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples (all labels) in a Prometheus text page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head = line.split(" ")[0]
            if head == name or head.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_the_secret_is_checked_duplicates_are_not_answered_and_metrics_move(
    tmp_path: Path, emulator: BotApiEmulator
) -> None:
    worker = Worker(tmp_path / "one", emulator, f"sqlite:///{tmp_path / 'healthbot.db'}")
    try:
        worker.wait_ready()
        assert emulator.webhook["url"] == f"https://bot.example.org{PATH}"
        assert emulator.webhook["secret_token"] == SECRET
        status, body = get(worker.url + "/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, body = get(worker.url + "/readyz")
        assert json.loads(body)["database"] == "ok" and json.loads(body)["nlu"] == {
            "embedded": "ok"
        }
        before = get(worker.url + "/metrics")[1]

        young = user(1)
        first = update(1, young, "/help")
        assert worker.post(first, secret=None)[0] == 403
        assert worker.post(first, secret="wrong-secret")[0] == 403
        assert worker.post(first, secret=SECRET[:-1])[0] == 403
        assert replies_to(emulator, young) == [], "a refused update was answered"

        assert worker.post(first) == (200, {"ok": True, "outcome": "handled"})
        assert len(replies_to(emulator, young)) == 1
        assert "/menu" in replies_to(emulator, young)[0]["text"]
        assert worker.post(first) == (200, {"ok": True, "outcome": "duplicate"})
        assert worker.post(update(2, young, "what is prep")) == (
            200,
            {"ok": True, "outcome": "handled"},
        )
        assert len(replies_to(emulator, young)) == 2, "the redelivered update was answered twice"

        assert worker.oversized(2 << 20) == 413
        assert (
            request(worker.url + PATH, b"{not json", {"X-Telegram-Bot-Api-Secret-Token": SECRET})[0]
            == 400
        )
        assert worker.post({"message": {}})[0] == 400

        after = get(worker.url + "/metrics")[1]
        assert (
            metric(after, "healthbot_updates_total") - metric(before, "healthbot_updates_total")
            == 2
        )
        assert (
            metric(after, "healthbot_replies_total") - metric(before, "healthbot_replies_total")
            == 2
        )
        assert (
            metric(after, "healthbot_webhook_requests_total")
            - metric(before, "healthbot_webhook_requests_total")
            == 9
        )
        assert 'outcome="duplicate"' in after and 'outcome="forbidden"' in after
        assert (
            metric(after, "healthbot_update_seconds_count")
            - metric(before, "healthbot_update_seconds_count")
            == 2
        )
        assert metric(after, "healthbot_nlu_parses_total") >= 1
        assert "healthbot_queue_cases" in after and "healthbot_turn_seconds_bucket" in after
    finally:
        output = worker.stop()
    assert worker.process.returncode == 0, output[-3000:]
    for line in output.splitlines():
        assert json.loads(line)["level"], line  # JSON logs, one object a line
    assert "what is prep" not in output and str(young["id"]) not in output


@pytest.mark.postgres
def test_two_workers_share_the_work_and_every_message_gets_exactly_one_answer(
    tmp_path: Path, emulator: BotApiEmulator, postgres_url: str
) -> None:
    """Each update is delivered to both workers at once, then again; one answer each."""
    workers = [Worker(tmp_path / name, emulator, postgres_url) for name in ("a", "b")]
    try:
        for worker in workers:
            worker.wait_ready()
        people = [user(n) for n in range(20)]
        texts = ("/help", "what is prep", "/privacy")
        updates = [
            update(1 + turn * len(people) + i, who, texts[turn])
            for turn in range(len(texts))
            for i, who in enumerate(people)
        ]
        outcomes: Counter[str] = Counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for turn in range(len(texts)):  # a person's next message after the last is answered
                batch = updates[turn * len(people) : (turn + 1) * len(people)]
                jobs = [pool.submit(w.deliver, u) for u in batch for w in workers]
                outcomes.update(job.result() for job in jobs)
        assert outcomes["handled"] == len(updates), outcomes
        assert outcomes["duplicate"] == len(updates), outcomes
        for who in people:
            got = replies_to(emulator, who)
            assert len(got) == len(texts), (who["id"], [g["text"][:40] for g in got])
            assert "/menu" in got[0]["text"] and "privacy" in got[2]["text"].lower()
        handled_by = [
            metric(get(w.url + "/metrics")[1], "healthbot_update_seconds_count") for w in workers
        ]
        assert sum(handled_by) == len(updates) and min(handled_by) > 0, handled_by
    finally:
        for worker in workers:
            worker.stop()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_out_of_range_or_malformed_update_is_acknowledged_and_not_answered(
    tmp_path: Path, emulator: BotApiEmulator, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        str(request.getfixturevalue("postgres_url"))
        if database == "postgres"
        else f"sqlite:///{tmp_path / 'healthbot.db'}"
    )
    worker = Worker(tmp_path / "one", emulator, url)
    young = user(7)
    marker = "Zawadi-Q7 from Kibera"
    try:
        worker.wait_ready()
        before = get(worker.url + "/metrics")[1]
        huge = update(2**63, young, marker)
        assert worker.post(huge) == (200, {"ok": True, "outcome": "bad_update"})
        assert worker.post(update(2**64 + 5, young, marker))[0] == 200
        malformed = {"update_id": 41, "message": {"text": marker, "from": young}}  # no chat, date
        assert worker.post(malformed) == (200, {"ok": True, "outcome": "bad_update"})
        assert worker.post(malformed) == (200, {"ok": True, "outcome": "duplicate"}), "marked"
        weird = {"update_id": 42, "message": "not an object"}
        assert worker.post(weird) == (200, {"ok": True, "outcome": "bad_update"})
        assert replies_to(emulator, young) == []
        assert worker.post(update(43, young, "/help")) == (200, {"ok": True, "outcome": "handled"})
        after = get(worker.url + "/metrics")[1]
        bad = 'healthbot_webhook_requests_total{outcome="bad_update"}'
        assert metric(after, bad) - metric(before, bad) == 4
        assert metric(after, "healthbot_errors_total") == metric(before, "healthbot_errors_total")
    finally:
        output = worker.stop()
    assert worker.process.returncode == 0, output[-3000:]
    assert "Zawadi" not in output and "Kibera" not in output and str(young["id"]) not in output
