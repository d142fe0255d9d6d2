"""Train and serve the Rasa 3.6 model from `.venv-rasa` (its own environment, Python 3.10).

Models are named by the fingerprint of nlu/data + nlu/config.yml and kept in a cache outside the
work tree (`~/.cache/healthbot/rasa-models`, or HEALTHBOT_CACHE), so a fresh clone with unchanged
training data reuses the model instead of training for minutes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bot import paths
from nlu.embedded import fingerprint

RASA_VENV = paths.PROJECT_ROOT / ".venv-rasa"
RASA_BIN = RASA_VENV / "bin" / "rasa"


class RasaNotInstalled(RuntimeError):
    """`.venv-rasa` is missing: `make rasa` builds it."""


def cache_dir() -> Path:
    """Where trained Rasa models are kept between clones."""
    root = os.environ.get("HEALTHBOT_CACHE") or str(Path.home() / ".cache" / "healthbot")
    return Path(root) / "rasa-models"


def model_path() -> Path:
    """The model file for the current training data."""
    digest = fingerprint(paths.NLU_DATA_DIR, paths.NLU_CONFIG)[:16]
    return cache_dir() / f"nlu-{digest}.tar.gz"


def require_rasa() -> Path:
    """The `rasa` executable, or a clear error."""
    if not RASA_BIN.is_file():
        raise RasaNotInstalled(f"{RASA_BIN} not found: run `make rasa` to build .venv-rasa")
    return RASA_BIN


def rasa_env() -> dict[str, str]:
    """Quiet, offline-friendly environment for Rasa commands."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONWARNINGS": "ignore",
    }


def train(*, force: bool = False) -> tuple[Path, bool]:
    """Train `rasa train nlu` unless the cached model for this data exists."""
    target = model_path()
    if target.is_file() and not force:
        return target, False
    rasa = require_rasa()
    target.parent.mkdir(parents=True, exist_ok=True)
    out = target.parent / f"tmp-{os.getpid()}"
    subprocess.run(  # noqa: S603 - fixed arguments, our own executable
        [
            str(rasa),
            "train",
            "nlu",
            "--nlu",
            str(paths.NLU_DATA_DIR),
            "--config",
            str(paths.NLU_CONFIG),
            "--out",
            str(out),
            "--fixed-model-name",
            "model",
        ],
        check=True,
        env=rasa_env(),
        cwd=paths.PROJECT_ROOT,
    )
    (out / "model.tar.gz").replace(target)
    shutil.rmtree(out, ignore_errors=True)
    return target, True


def serve_command(token: str, host: str = "127.0.0.1", port: int = 5005) -> list[str]:
    """The command that serves the current model over HTTP (`/model/parse`).

    The API answers only requests that carry `token` (`?token=...`): without `--auth-token`,
    `--enable-api` lets anyone who reaches the port replace or delete the model.
    """
    if not token:
        raise ValueError("the Rasa API needs an auth token")
    return [
        str(require_rasa()),
        "run",
        "--enable-api",
        "--auth-token",
        token,
        "-m",
        str(model_path()),
        "-i",
        host,
        "-p",
        str(port),
    ]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    token: str, port: int | None = None, timeout: float = 240.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `rasa run --enable-api --auth-token TOKEN` on 127.0.0.1; wait for its model."""
    model = model_path()
    if not model.is_file():
        raise RasaNotInstalled(f"no Rasa model at {model}: run `make rasa-model`")
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own executable
        serve_command(token, "127.0.0.1", port),
        env=rasa_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Rasa server exited during start-up")
        try:
            status = httpx.get(f"{url}/status", params={"token": token}, timeout=2)
            if status.json().get("model_file"):
                return process, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    process.kill()
    process.wait()
    raise RuntimeError(f"Rasa did not load its model within {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `start_server`."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
