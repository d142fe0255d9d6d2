"""Settings from the environment and a `.env` file, checked once at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_URL = "sqlite:///data/healthbot.db"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
MIN_SECRET_LENGTH = 16
DEFAULT_COUNSELLOR_HOURS = (time(8, 0), time(20, 0))
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - in a container the port is published by compose
DEFAULT_PORT = 8080
DEFAULT_RETENTION_DAYS = 90
DEFAULT_TELEGRAM_MAX_RATE = 30  # messages a second, Telegram's documented limit for one bot
# Where the web chat's quick exit goes: an everyday page that names nothing about health.
DEFAULT_QUICK_EXIT_URL = "https://www.google.com/search?q=weather"
WEBHOOK_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

# every variable `load_settings` reads (the compose file is checked against this list)
ENVIRONMENT = (
    "HEALTHBOT_SECRET",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "NLU_BACKEND",
    "RASA_URL",
    "RASA_TOKEN",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "WEB_SECURE_COOKIES",
    "COUNSELLOR_HOURS",
    "CASE_REALERT_MINUTES",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "HOST",
    "PORT",
    "RETENTION_DAYS",
    "TELEGRAM_MAX_RATE",
    "QUICK_EXIT_URL",
)

NluBackend = Literal["embedded", "rasa"]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one sentence for the operator."""


@dataclass(frozen=True)
class Settings:
    """Everything the application reads from its environment."""

    healthbot_secret: str
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = DEFAULT_DATABASE_URL
    # the role that owns the schema and runs `healthbot db upgrade`; DATABASE_URL when unset
    migration_database_url: str | None = field(default=None, repr=False)
    nlu_backend: NluBackend = "embedded"
    rasa_url: str = DEFAULT_RASA_URL
    rasa_token: str | None = field(default=None, repr=False)  # `rasa run --auth-token`
    log_level: str = "INFO"
    counsellor_hours: tuple[time, time] = DEFAULT_COUNSELLOR_HOURS  # Nairobi time
    case_realert_minutes: int = 5
    web_secure_cookies: bool = False  # true behind HTTPS: the console's cookie is Secure
    log_format: Literal["text", "json"] = "text"
    webhook_url: str | None = None  # public https URL Telegram posts updates to
    webhook_secret: str | None = field(default=None, repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    retention_days: int = DEFAULT_RETENTION_DAYS  # messages and transcripts older are purged
    telegram_max_rate: int = DEFAULT_TELEGRAM_MAX_RATE  # messages a second overall; 0: no limit
    quick_exit_url: str = DEFAULT_QUICK_EXIT_URL  # the web chat's quick exit replaces the page

    @property
    def migration_url(self) -> str:
        """The URL migrations run with: MIGRATION_DATABASE_URL, else DATABASE_URL."""
        return self.migration_database_url or self.database_url

    def with_backend(self, backend: NluBackend) -> Settings:
        """A copy with another NLU backend."""
        return replace(self, nlu_backend=backend)

    def require_token(self) -> str:
        """Return the bot token or stop with a clear sentence."""
        if not self.telegram_bot_token:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in .env "
                "or use `healthbot chat` for the terminal chat."
            )
        return self.telegram_bot_token

    def require_webhook(self) -> tuple[str, str]:
        """Return (WEBHOOK_URL, WEBHOOK_SECRET) or stop with a clear sentence."""
        if not self.webhook_url or not self.webhook_secret:
            raise ConfigError(
                "webhook mode needs WEBHOOK_URL (the public https URL Telegram posts to) and "
                "WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)."
            )
        return self.webhook_url, self.webhook_secret


def _read(environ: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_rasa_token(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> str:
    """RASA_TOKEN alone (`healthbot nlu serve` needs no other setting), or a ConfigError."""
    token = _read(environ, env_file).get("RASA_TOKEN", "").strip()
    if len(token) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "RASA_TOKEN is not set (or shorter than 16 characters): the Rasa server's API "
            "answers only requests that carry it. `make run` writes one into a new .env; or set "
            "it to a long random string (openssl rand -hex 32) in .env."
        )
    return token


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Read settings; real environment variables win over the `.env` file."""
    values = _read(environ, env_file)

    def get(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    secret = get("HEALTHBOT_SECRET")
    if secret is None:
        raise ConfigError(
            "HEALTHBOT_SECRET is not set: `make run` writes one into .env, or set it to a long "
            "random string (it keys the pseudonymous user ids)."
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"HEALTHBOT_SECRET is too short: use at least {MIN_SECRET_LENGTH} random characters."
        )

    token = get("TELEGRAM_BOT_TOKEN")
    if token is not None and (":" not in token or not token.split(":", 1)[0].isdigit()):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN looks malformed: it should look like 123456:ABC... from @BotFather."
        )

    base_url = get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL
    _require_http_url("TELEGRAM_API_BASE_URL", base_url)
    rasa_url = get("RASA_URL") or DEFAULT_RASA_URL
    _require_http_url("RASA_URL", rasa_url)
    rasa_token = get("RASA_TOKEN")

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    _require_database_url("DATABASE_URL", database_url)
    migration_database_url = get("MIGRATION_DATABASE_URL")
    if migration_database_url is not None:
        _require_database_url("MIGRATION_DATABASE_URL", migration_database_url)

    backend = (get("NLU_BACKEND") or "embedded").lower()
    if backend not in ("embedded", "rasa"):
        raise ConfigError("NLU_BACKEND must be `embedded` or `rasa`.")

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(log_level), int):
        raise ConfigError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL.")

    secure = (get("WEB_SECURE_COOKIES") or "false").lower()
    if secure not in ("true", "false"):
        raise ConfigError("WEB_SECURE_COOKIES must be `true` (behind HTTPS) or `false`.")
    hours = _hours(get("COUNSELLOR_HOURS") or "08:00-20:00")
    realert = get("CASE_REALERT_MINUTES") or "5"
    if not realert.isdigit() or not 1 <= int(realert) <= 1440:
        raise ConfigError("CASE_REALERT_MINUTES must be a whole number of minutes, 1 to 1440.")

    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError("LOG_FORMAT must be `text` (a terminal) or `json` (production).")
    webhook_url = get("WEBHOOK_URL")
    if webhook_url is not None:
        _require_http_url("WEBHOOK_URL", webhook_url)
    webhook_secret = get("WEBHOOK_SECRET")
    if webhook_secret is not None and (
        len(webhook_secret) > 256 or not set(webhook_secret) <= WEBHOOK_SECRET_CHARS
    ):
        raise ConfigError("WEBHOOK_SECRET must be 1-256 of A-Z a-z 0-9 _ - (Telegram's rule).")
    port = get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError("PORT must be a TCP port number, 1 to 65535.")
    retention = get("RETENTION_DAYS") or str(DEFAULT_RETENTION_DAYS)
    if not retention.isdigit() or not 1 <= int(retention) <= 3650:
        raise ConfigError("RETENTION_DAYS must be a whole number of days, 1 to 3650.")

    max_rate = get("TELEGRAM_MAX_RATE") or str(DEFAULT_TELEGRAM_MAX_RATE)
    if not max_rate.isdigit() or int(max_rate) > 100_000:
        raise ConfigError(
            "TELEGRAM_MAX_RATE must be a whole number of messages a second (0: no limit)."
        )

    quick_exit_url = get("QUICK_EXIT_URL") or DEFAULT_QUICK_EXIT_URL
    _require_http_url("QUICK_EXIT_URL", quick_exit_url)

    return Settings(
        healthbot_secret=secret,
        telegram_bot_token=token,
        telegram_api_base_url=base_url,
        database_url=database_url,
        migration_database_url=migration_database_url,
        nlu_backend="rasa" if backend == "rasa" else "embedded",
        rasa_url=rasa_url,
        rasa_token=rasa_token,
        log_level=log_level,
        counsellor_hours=hours,
        case_realert_minutes=int(realert),
        web_secure_cookies=secure == "true",
        log_format="json" if log_format == "json" else "text",
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        host=get("HOST") or DEFAULT_HOST,
        port=int(port),
        retention_days=int(retention),
        telegram_max_rate=int(max_rate),
        quick_exit_url=quick_exit_url,
    )


def _hours(value: str) -> tuple[time, time]:
    """`08:00-20:00` (Nairobi time; `00:00-24:00` is all day) → (start, end)."""
    try:
        start, end = (
            time.max if part.strip() == "24:00" else time.fromisoformat(part.strip())
            for part in value.split("-")
        )
    except ValueError:
        raise ConfigError(
            "COUNSELLOR_HOURS must look like 08:00-20:00 (Nairobi time, start before end)."
        ) from None
    if start >= end:
        raise ConfigError("COUNSELLOR_HOURS must look like 08:00-20:00 (start before end).")
    return start, end


def _require_database_url(name: str, value: str) -> None:
    scheme = value.split(":", 1)[0].split("+", 1)[0]
    if scheme not in {"sqlite", "postgresql", "postgres"} or "://" not in value:
        raise ConfigError(
            f"{name} must be an sqlite:/// or postgresql:// URL, "
            "for example sqlite:///data/healthbot.db."
        )


def _require_http_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}.")
