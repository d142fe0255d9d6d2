"""Many young people at once through the real webhook server, PostgreSQL and the embedded parser.

Starts a fast Bot API emulator (bench/load/emulator.py), a new PostgreSQL database, and one or
more `healthbot run --webhook` processes, then plays Telegram: USERS young people each send a
short conversation (/start, choose English, a question, /help, another question...), every
update POSTed to the webhook with the secret header, at most CONNECTIONS in flight (Telegram's
`max_connections` is 1-100), spread round-robin over the workers as a load balancer would. A
person's next message goes only after the previous one was acknowledged (a 200 is sent after the
replies). Every message here earns exactly one sendMessage, so the emulator's count per chat
shows lost and duplicated replies.

Two ways to load it:
- closed loop (default), for capacity: CONNECTIONS senders each deliver the next message as soon
  as the last was answered, so the bot is always saturated and latency is mostly queueing;
- open loop (`--rate R`), for latency at a load: messages arrive R per second (Poisson), whatever
  the bot is doing, and latency counts from each message's scheduled arrival.

Latency is from the update's delivery (or scheduled arrival) to its 200 (replies sent). CPU time
per message is reported for each process: the workers, PostgreSQL, the emulator and the sender.
Run: `.venv/bin/python -m bench.load.run [--users 1000] [--messages 5] [--workers 1] [--rate R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

from bench.load.cpu import CpuMeter

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:LOAD-TEST-TOKEN"  # noqa: S105 - the emulator's token, not a credential
SECRET = "load-secret_0123456789"  # noqa: S105 - a benchmark webhook secret
PATH = "/telegram/webhook"
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCRIPT: tuple[tuple[str, str], ...] = (  # (kind, value); each earns exactly one sendMessage
    ("text", "/start"),
    ("button", "lang:en"),
    ("text", "what is prep"),
    ("text", "/help"),
    ("text", "how do i use a condom"),
    ("text", "where can i test for hiv"),
    ("text", "/menu"),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def update(update_id: int, user_id: int, kind: str, value: str) -> dict[str, Any]:
    who = {"id": user_id, "is_bot": False, "first_name": "Young"}
    chat = {"id": user_id, "first_name": "Young", "type": "private"}
    if kind == "button":
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cb{update_id}",
                "chat_instance": "1",
                "from": who,
                "data": value,
                "message": {"message_id": 1, "date": 1763877600, "chat": chat, "text": "x"},
            },
        }
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": 1763877600,
        "from": who,
        "chat": chat,
        "text": value,
    }
    if value.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(value), "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


@contextmanager
def database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"healthbot_load_{uuid.uuid4().hex[:10]}"
    dsn = ADMIN_URL

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_http(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer in {timeout} s")


async def transactions(url: str) -> int:
    """Transactions committed or rolled back in the database so far (pg_stat_database)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        row = await connection.fetchrow(
            "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        return int(row["n"]) if row else 0
    finally:
        await connection.close()


class MemoryWatch:
    """Samples the workers' resident memory; reports the peak (VmHWM) at the end."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids

    def peak_mib(self) -> list[float]:
        peaks = []
        for pid in self._pids:
            status = Path(f"/proc/{pid}/status").read_text()
            line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
            peaks.append(int(line.split()[1]) / 1024)
        return peaks


class Sender:
    """Posts updates to the workers as Telegram does: again after a non-200, round-robin."""

    def __init__(self, client: aiohttp.ClientSession, urls: list[str], first_update: int) -> None:
        self._client = client
        self._urls = urls
        self._turn = 0
        self._next_update = first_update
        self.latencies: list[float] = []
        self.outcomes: dict[str, int] = {}
        self.retries = 0

    async def deliver(self, user_id: int, step: int, since: float) -> None:
        """Deliver `user_id`'s message number `step`; latency counts from `since`."""
        kind, value = SCRIPT[step % len(SCRIPT)]
        self._next_update += 1
        body = update(self._next_update, user_id, kind, value)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        while True:
            url = self._urls[self._turn % len(self._urls)]
            self._turn += 1
            async with self._client.post(url, json=body, headers=headers) as response:
                status = response.status
                answer = await response.json()
            if status == 200:
                self.latencies.append(time.perf_counter() - since)
                self._count(answer.get("outcome", "?"))
                return
            self.retries += 1  # Telegram would deliver it again
            self._count(f"http_{status}")
            await asyncio.sleep(0.1)

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def result(self, elapsed: float) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "outcomes": self.outcomes,
            "retries": self.retries,
            "elapsed": elapsed,
        }


def _client(connections: int) -> aiohttp.ClientSession:
    """The sender's HTTP client: aiohttp, light enough to leave the cores to the bot."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def drive(
    urls: list[str], users: int, messages: int, connections: int, first_user: int
) -> dict[str, Any]:
    """Closed loop, for capacity: CONNECTIONS senders, each sending as soon as one is answered."""
    ready: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for n in range(users):
        ready.put_nowait((first_user + n, 0))
    remaining = [users * messages]
    done = asyncio.Event()

    async def sender(post: Sender) -> None:
        while not done.is_set():
            try:
                user_id, step = await asyncio.wait_for(ready.get(), timeout=0.5)
            except TimeoutError:
                continue
            await post.deliver(user_id, step, time.perf_counter())
            remaining[0] -= 1
            if step + 1 < messages:
                ready.put_nowait((user_id, step + 1))
            elif remaining[0] == 0:
                done.set()

    async with _client(connections) as client:
        post = Sender(client, urls, first_user * 100)
        started = time.perf_counter()
        await asyncio.gather(*(sender(post) for _ in range(connections)))
        return post.result(time.perf_counter() - started)


async def drive_at(
    urls: list[str], users: int, messages: int, connections: int, first_user: int, rate: float
) -> dict[str, Any]:
    """Open loop, for latency at a load: messages arrive at RATE per second (Poisson), each from
    a person whose previous message was answered; latency counts from the scheduled arrival, so
    time spent waiting for a free connection is included (no coordinated omission)."""
    idle: deque[tuple[int, int]] = deque((first_user + n, 0) for n in range(users))
    freed = asyncio.Event()
    gate = asyncio.Semaphore(connections)
    arrivals = random.Random(20261130)  # the same arrival pattern every run
    tasks: list[asyncio.Task[None]] = []

    async def one(post: Sender, user_id: int, step: int, scheduled: float) -> None:
        async with gate:
            await post.deliver(user_id, step, scheduled)
        if step + 1 < messages:
            idle.append((user_id, step + 1))
            freed.set()

    async with _client(connections) as client:
        post = Sender(client, urls, first_user * 100)
        started = scheduled = time.perf_counter()
        for _ in range(users * messages):
            scheduled += arrivals.expovariate(rate)
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            while not idle:  # everyone is waiting for an answer
                freed.clear()
                await freed.wait()
            user_id, step = idle.popleft()
            tasks.append(asyncio.create_task(one(post, user_id, step, scheduled)))
        await asyncio.gather(*tasks)
        return post.result(time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5, help="per user (1-7 differ)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=100, help="in flight, like Telegram")
    parser.add_argument("--warmup", type=int, default=50, help="users before the measured run")
    parser.add_argument(
        "--rate",
        type=float,
        help="open loop: messages arrive at this many per second (default: closed loop, capacity)",
    )
    parser.add_argument("--logs", default="data/load-logs", help="worker logs folder")
    parser.add_argument(
        "--profile", help="record worker 0 with py-spy into this file (collapsed stacks)"
    )
    args = parser.parse_args()
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    emulator_port = free_port()
    emulator = start(
        [python, "-m", "bench.load.emulator", str(emulator_port), TOKEN],
        dict(os.environ),
        logs / "emulator.log",
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_http(f"http://127.0.0.1:{emulator_port}/stats")
        with database() as url:
            env = {
                **os.environ,
                "HEALTHBOT_SECRET": "load-secret-0123456789abcdef",
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{emulator_port}/bot",
                "DATABASE_URL": url,
                "WEBHOOK_URL": f"https://bot.example.org{PATH}",
                "WEBHOOK_SECRET": SECRET,
                "HOST": "127.0.0.1",
                "TELEGRAM_MAX_RATE": "0",  # the emulator has no flood limit to respect
                "LOG_LEVEL": "WARNING",
                "LOG_FORMAT": "json",
            }
            subprocess.run(
                [python, "-m", "bot.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True
            )
            ports = [free_port() for _ in range(args.workers)]
            for i, port in enumerate(ports):
                workers.append(
                    start(
                        [python, "-m", "bot.cli", "run", "--webhook"],
                        {**env, "PORT": str(port)},
                        logs / f"worker{i}.log",
                    )
                )
            for port in ports:
                wait_http(f"http://127.0.0.1:{port}/readyz")
            urls = [f"http://127.0.0.1:{port}{PATH}" for port in ports]
            asyncio.run(drive(urls, args.warmup, 3, min(args.connections, 50), 1_000_000))
            httpx.post(f"http://127.0.0.1:{emulator_port}/reset")
            before = asyncio.run(transactions(url))
            profiler = None
            if args.profile:
                spy = str(Path(python).parent / "py-spy")
                command = [spy, "record", "--pid", str(workers[0].pid), "--format", "raw"]
                command += ["--output", args.profile, "--rate", "200"]
                profiler = subprocess.Popen(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)
            meter = CpuMeter([w.pid for w in workers], emulator.pid)
            meter.start()
            if args.rate:
                run = drive_at(urls, args.users, args.messages, args.connections, 2_000, args.rate)
            else:
                run = drive(urls, args.users, args.messages, args.connections, 2_000)
            result = asyncio.run(run)
            result["cpu"] = meter.stop()
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            stats = httpx.get(f"http://127.0.0.1:{emulator_port}/stats").json()
            time.sleep(1.5)  # backends report their counts within a second
            stats["transactions"] = asyncio.run(transactions(url)) - before
            peaks = MemoryWatch([w.pid for w in workers]).peak_mib()
    finally:
        for process in [*workers, emulator]:
            process.terminate()
        for process in [*workers, emulator]:
            process.wait(timeout=30)
    report(args, result, stats, peaks)


def report(
    args: argparse.Namespace, result: dict[str, Any], stats: dict[str, Any], peaks: list[float]
) -> None:
    expected = args.messages
    sent: dict[str, int] = stats["sent"]
    chats = [str(2_000 + n) for n in range(args.users)]
    lost = sum(max(0, expected - sent.get(c, 0)) for c in chats)
    duplicated = sum(max(0, sent.get(c, 0) - expected) for c in chats)
    stray = sum(v for c, v in sent.items() if c not in set(chats))
    latencies = [x * 1000 for x in result["latencies"]]
    total = args.users * args.messages
    figures = {
        "workers": args.workers,
        "offered_rate_msg_s": args.rate or "closed loop",
        "users": args.users,
        "messages": total,
        "connections": args.connections,
        "elapsed_s": round(result["elapsed"], 2),
        "throughput_msg_s": round(len(latencies) / result["elapsed"], 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "outcomes": result["outcomes"],
        "retried_deliveries": result["retries"],
        "replies_expected": total,
        "replies_received": sum(sent.get(c, 0) for c in chats),
        "lost": lost,
        "duplicated": duplicated,
        "stray": stray,
        "peak_rss_mib": [round(p, 1) for p in peaks],
        "db_transactions_per_message": round(stats["transactions"] / total, 2),
        "cpu_ms_per_message": {
            name: round(seconds * 1000 / total, 2) for name, seconds in result["cpu"].items()
        },
        "cpu_share_of_two_cores": {
            name: round(seconds / (2 * result["elapsed"]), 2)
            for name, seconds in result["cpu"].items()
        },
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
