"""Logging set-up. Privacy by construction: libraries that log message contents, chat ids or
URLs carrying the bot token are held above DEBUG whatever LOG_LEVEL says."""

from __future__ import annotations

import logging

# logger name -> the most verbose level it may use
QUIET_LIBRARIES = {
    "httpx": logging.WARNING,  # logs request URLs, which contain the bot token
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,  # DEBUG logs every update and API call with chat ids and text
    "aiosqlite": logging.WARNING,  # DEBUG logs SQL parameters
    "asyncio": logging.WARNING,
    "alembic": logging.WARNING,
}


def configure_logging(level: str) -> None:
    """Plain timestamped lines at `level`, with chatty libraries held back."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    numeric = logging.getLevelName(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, numeric if isinstance(numeric, int) else floor))
