"""A login flood against the real web process: how slow does the web chat's crisis reply get?

Starts `healthbot web` (uvicorn, one process) on a fresh SQLite database with one console
account, times web-chat crisis sends alone (each from a fresh chat: the `/chat` page, then
`POST /chat/send` with the cookie and the page's CSRF header), then fires `--logins` parallel
wrong-password logins (each: the login page for its CSRF token, then the POST) and starts
`--sends` crisis sends 0.1 s apart alongside, each timed on its own. Prints the medians, their
ratio and what the logins were answered (docs/benchmarks.md has the figures).
Run: `.venv/bin/python bench/login_flood.py [--logins 300] [--sends 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HEALTHBOT = str(ROOT / ".venv" / "bin" / "healthbot")
SECRET = "bench-secret-0123456789"  # noqa: S105 - a benchmark key, not a credential
PASSWORD = "bench password 0123"  # noqa: S105 - a benchmark account's password
CRISIS = "I want to kill myself tonight"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def crisis_send(base: str) -> float:
    """Seconds from `POST /chat/send` to its answer, for a fresh chat."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        page = await client.get("/chat")
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found, page.status_code
        start = time.perf_counter()
        sent = await client.post(
            "/chat/send", json={"text": CRISIS}, headers={"X-CSRF-Token": found.group(1)}
        )
        took = time.perf_counter() - start
        assert sent.status_code == 200, sent.status_code
        return took


async def bad_login(client: httpx.AsyncClient, n: int) -> int:
    """One wrong-password login (its own session cookie); the status it got."""
    client.cookies.clear()
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if found is None:
        return page.status_code
    form = {"username": f"guess{n % 7}", "password": "not it", "csrf_token": found.group(1)}
    return (await client.post("/login", data=form)).status_code


async def sends(base: str, count: int) -> list[float]:
    return [await crisis_send(base) for _ in range(count)]


async def flood(base: str, logins: int, count: int) -> tuple[list[float], collections.Counter[int]]:
    """`count` crisis sends, started 0.1 s apart from the moment `logins` wrong-password logins
    are fired in parallel, each timed on its own."""
    clients = [httpx.AsyncClient(base_url=base, timeout=300) for _ in range(logins)]
    try:
        attempts = [asyncio.create_task(bad_login(c, n)) for n, c in enumerate(clients)]

        async def later(delay: float) -> float:
            await asyncio.sleep(delay)
            return await crisis_send(base)

        timed = await asyncio.gather(*(later(0.1 * n) for n in range(count)))
        statuses = collections.Counter(await asyncio.gather(*attempts))
    finally:
        for client in clients:
            await client.aclose()
    return list(timed), statuses


async def measure(base: str, logins: int, count: int) -> None:
    await sends(base, 3)  # warm up: model, templates, connections
    alone = await sends(base, count)
    during, statuses = await flood(base, logins, count)
    quiet, busy = statistics.median(alone), statistics.median(during)
    print(f"crisis send alone: median {quiet * 1000:.1f} ms (n={len(alone)})")
    print(f"during {logins} parallel logins: median {busy * 1000:.1f} ms (n={len(during)})")
    print(f"ratio: {busy / quiet:.1f}x")
    print("logins answered: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--sends", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "HEALTHBOT_SECRET": SECRET,
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "TELEGRAM_BOT_TOKEN": "",
            "LOG_LEVEL": "ERROR",
        }
        subprocess.run(
            [HEALTHBOT, "users", "add", "--username", "bench", "--role", "admin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [HEALTHBOT, "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            asyncio.run(measure(base, args.logins, args.sends))
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
