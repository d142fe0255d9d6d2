"""Logging set-up: plain lines for a terminal or one JSON object a line for production.

Privacy by construction. The code never logs message text, names or ids; on top of that:
- libraries that log message contents, chat ids, client addresses or URLs carrying the bot token
  are held above DEBUG whatever LOG_LEVEL says (`QUIET_LIBRARIES`);
- JSON lines carry only whitelisted `extra` fields (`SAFE_EXTRA`); any other key is dropped;
- a filter on the handler replaces anything shaped like a bot token with `[token]`, in the message,
  the traceback and the extra fields (a safety net, not a licence to log URLs).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

# logger name -> the most verbose level it may use
QUIET_LIBRARIES = {
    "httpx": logging.WARNING,  # logs request URLs, which contain the bot token
    "httpcore": logging.WARNING,
    "aiohttp": logging.WARNING,  # the bot's Bot API client: request URLs contain the token
    "telegram": logging.INFO,  # DEBUG logs every update and API call with chat ids and text
    "aiosqlite": logging.WARNING,  # DEBUG logs SQL parameters
    "sqlalchemy.engine": logging.WARNING,  # INFO logs SQL statements (and, unhidden, parameters)
    "asyncio": logging.WARNING,
    "alembic": logging.WARNING,
    "uvicorn.access": logging.WARNING,  # client addresses and request paths (a token path too)
    "uvicorn.error": logging.INFO,
}

# the only `extra={...}` keys a JSON line carries; every other key is dropped
SAFE_EXTRA = (
    "channel",
    "kind",
    "category",
    "intent",
    "backend",
    "update_type",
    "status",
    "duration_ms",
    "case",
    "count",
    "path",
    "method",
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
HANDLER_NAME = "healthbot"


def redact(text: str) -> str:
    """`text` with anything shaped like a Telegram bot token replaced by `[token]`."""
    return TOKEN.sub("[token]", text)


class RedactTokens(logging.Filter):
    """Replace bot tokens in a record's final message, traceback and stack before any output;
    a database error's traceback keeps only types, codes and code locations (below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string: never fall back to printing the args
            message = f"[a log message could not be formatted: {type(exc).__name__}]"
        record.msg, record.args = redact(message), None
        if (
            record.exc_info
            and record.exc_info[1] is not None
            and _from_database(record.exc_info[1])
        ):
            record.exc_text = database_traceback(record.exc_info[1])
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_DATABASE_MODULES = ("sqlalchemy.", "asyncpg", "sqlite3", "aiosqlite", "psycopg")


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes and contexts, each once."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _from_database(error: BaseException) -> bool:
    """Whether a database error is in the chain (driver errors quote the statement's values)."""
    return any(type(e).__module__.startswith(_DATABASE_MODULES) for e in _chain(error))


def database_traceback(error: BaseException) -> str:
    """A database error without its messages: each error's type and SQLSTATE or code, and where
    it was raised. Drivers put bound values in their messages (asyncpg's DataError does despite
    `hide_parameters`), and those values can be a young person's words."""
    lines = ["Traceback (messages withheld: a database error can quote what was stored):"]
    for item in _chain(error):
        code = getattr(item, "sqlstate", None) or getattr(
            getattr(item, "orig", None), "sqlstate", None
        )
        if code is None:
            code = getattr(item, "sqlite_errorname", None)
        for frame in traceback.extract_tb(item.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        lines.append(_qualified_name(type(item)) + (f" [{code}]" if isinstance(code, str) else ""))
    return "\n".join(lines)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, exception, whitelisted extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in SAFE_EXTRA:
            if key in record.__dict__:
                entry[key] = _safe_value(record.__dict__[key])
        if record.exc_info:
            exc_type = record.exc_info[0]
            if exc_type is not None:
                entry["exc_type"] = _qualified_name(exc_type)
            if not record.exc_text:
                record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (a test's capture, a restarted stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Report a failed write without the record's message or arguments (they may be private)."""
        if logging.raiseExceptions:
            error = sys.exc_info()[0]
            name = error.__name__ if error else "error"
            sys.stderr.write(f"--- logging failed ({name}) in {record.name}:{record.lineno}\n")


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log to stderr at `level` in `fmt` (`text` or `json`), chatty libraries held back.

    Calling it again reconfigures the one handler it installed instead of adding another.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: use text or json")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.name == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.name = HANDLER_NAME
        handler.addFilter(RedactTokens())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(numeric)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, numeric))


def _safe_value(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def _qualified_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"
