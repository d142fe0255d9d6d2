"""Faults during traffic, with real processes: PostgreSQL restarted under the webhook, and the
Bot API answering 429 and 5xx. Each test counts that nothing is lost and nothing answered twice.

The PostgreSQL test stops and starts this machine's server (pg_ctlcluster), as the machines this
project is tested on allow; it fails, never skips, without it.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_webhook import Worker, replies_to, update, user
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.e2e


def postgres(action: str) -> None:
    """Stop (as a crash would) or start this machine's PostgreSQL cluster."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "immediate"]  # a crash: connections cut at once
    assert shutil.which("pg_ctlcluster"), "pg_ctlcluster is needed to restart PostgreSQL"
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


@pytest.mark.postgres
def test_postgresql_restarted_during_traffic_loses_nothing_and_repeats_nothing(
    tmp_path: Path, emulator: BotApiEmulator, postgres_url: str
) -> None:
    """Twelve people keep talking before, during and after the outage; each message they got a
    200 for has exactly one reply, and some deliveries met the database down (503)."""
    worker = Worker(tmp_path / "w", emulator, postgres_url)
    people = [user(100 + n) for n in range(12)]
    texts = ("/help", "what is prep", "/privacy", "how do i use a condom", "/menu")
    statuses: Counter[int] = Counter()
    handled: Counter[int] = Counter()  # per person: messages acknowledged as answered
    lock = threading.Lock()
    restarted = threading.Event()

    def converse(index: int, who: dict[str, Any]) -> None:
        turn, after = 0, 0
        while after < 3:  # until three messages were answered after the restart
            body = update(1 + index * 1000 + turn, who, texts[turn % len(texts)])
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # as Telegram does: again until a 2xx
                status, answer = worker.post(body)
                with lock:
                    statuses[status] += 1
                if status == 200:
                    assert answer["outcome"] == "handled", answer
                    with lock:
                        handled[who["id"]] += 1
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"update {body['update_id']} was never acknowledged")
            turn += 1
            after += restarted.is_set()
            time.sleep(0.1)

    crisis_reply: list[tuple[int, Any]] = []
    try:
        worker.wait_ready()
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            jobs = [pool.submit(converse, i, who) for i, who in enumerate(people)]
            while sum(handled.values()) < 2 * len(people):  # traffic is flowing
                time.sleep(0.05)
            postgres("stop")
            try:
                time.sleep(2)
                crisis_reply.append(worker.post(update(99999, user(999), "I want to kill myself")))
                time.sleep(2)
            finally:
                postgres("start")
                restarted.set()
            for job in jobs:
                job.result(timeout=180)
    finally:
        output = worker.stop()
    assert statuses[503] > 0, f"the database was never seen down: {statuses}"
    for who in people:
        got = replies_to(emulator, who)
        assert len(got) == handled[who["id"]], (who["id"], handled[who["id"]], output[-2000:])
    status, answer = crisis_reply[0]
    assert (status, answer["outcome"]) == (200, "crisis_without_database")
    [safety] = replies_to(emulator, user(999))[:1]
    assert "1190" in safety["text"], "the crisis got no helpline while the database was down"


def test_bot_api_429_and_5xx_bursts_delay_replies_and_drop_none(
    tmp_path: Path, emulator: BotApiEmulator
) -> None:
    worker = Worker(tmp_path / "w", emulator, f"sqlite:///{tmp_path / 'h.db'}")
    people = [user(200 + n) for n in range(6)]
    try:
        worker.wait_ready()
        emulator.fail("sendMessage", 429, times=3, retry_after=1)
        emulator.fail("sendMessage", 502, times=3)
        emulator.fail("sendMessage", 500, times=2)
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            outcomes = list(
                pool.map(
                    lambda pair: worker.deliver(update(*pair)),
                    [(1 + i, who, "/help") for i, who in enumerate(people)],
                )
            )
    finally:
        worker.stop()
    assert outcomes == ["handled"] * len(people)
    for who in people:
        assert len(replies_to(emulator, who)) == 1, who["id"]
    attempts = [name for name, _ in emulator.calls if name == "sendMessage"]
    assert len(attempts) == len(people) + 8, "every failed send was tried again"
