"""What the browser tests share: Debian's Chromium, the real `healthbot web` process, and a
neutral local page for the web chat's quick exit to land on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEALTHBOT = [sys.executable, "-m", "bot.cli"]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def web_env(tmp_path: Path, secret: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `healthbot` process in `tmp_path` (no Telegram unless given)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "HEALTHBOT_SECRET": secret,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": "",
        **extra,
    }


def add_account(tmp_path: Path, env: dict[str, str], username: str, role: str) -> None:
    """`healthbot users add`, the password on standard input."""
    subprocess.run(
        [*HEALTHBOT, "users", "add", "--username", username, "--role", role],
        cwd=tmp_path,
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextmanager
def healthbot_web(tmp_path: Path, env: dict[str, str], ready: str = "/login") -> Iterator[str]:
    """Run `healthbot web` until the block ends; yields its base URL once `ready` answers.

    Fails with the end of the process's output if it stops or is not ready within two minutes.
    """
    assert Path(CHROMIUM).is_file(), "make test installs Debian's chromium"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "web.log").open("w") as log:
        server = subprocess.Popen(
            [*HEALTHBOT, "web", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(server, base + ready)
            assert server.poll() is None, (tmp_path / "web.log").read_text()[-2000:]
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


def _wait_until_ready(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)


NEUTRAL_PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Weather</title></head><body><h1>Weather today</h1><p>Sunny, 26\xc2\xb0C.</p></body></html>"""


class _Neutral(BaseHTTPRequestHandler):
    """Any GET: an everyday page that names nothing about health."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(NEUTRAL_PAGE)))
        self.end_headers()
        self.wfile.write(NEUTRAL_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test's output is the server's log, not this one's."""


@contextmanager
def neutral_site() -> Iterator[str]:
    """A local stand-in for QUICK_EXIT_URL's page (no network in the tests); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Neutral)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
