"""`healthbot web` serves the console over real HTTP (uvicorn), on the port it prints."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser.web import free_port

pytestmark = pytest.mark.e2e


def test_healthbot_web_serves_the_login_page(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "HEALTHBOT_SECRET": "web-secret-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'h.db'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert response is not None and response.status_code == 200
        assert 'name="csrf_token"' in response.text
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert httpx.get(f"http://127.0.0.1:{port}/inbox", timeout=2).status_code == 303
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"healthbot console at http://127.0.0.1:{port}/" in output


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_first_request_after_start_that_reads_the_database_succeeds(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """The runtime is prepared before uvicorn's event loop runs: its pool must not carry over."""
    url = (
        str(request.getfixturevalue("postgres_url"))
        if database == "postgres"
        else f"sqlite:///{tmp_path / 'data' / 'h.db'}"
    )
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "HEALTHBOT_SECRET": "web-secret-0123456789abcdef",
        "DATABASE_URL": url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # listening once it says where (uvicorn starts right after)
            if "healthbot console at" in line:
                break
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert (response.status_code, response.json()["database"]) == (200, "ok")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "Traceback" not in output, output[-3000:]
