"""Liveness and readiness, for the bot's server and the web console alike.

`/healthz` says the process answers. `/readyz` says it can do its work: the database answers, and
some NLU backend can parse. A Rasa outage alone is reported but is not "not ready": the embedded
parser answers in its place, so taking the process out of rotation would help nobody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nlu.embedded import EmbeddedParser
from nlu.parser import Parser
from nlu.rasa import FallbackParser

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 2.0


async def database_ok(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether `SELECT 1` answers within the timeout."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; its type is enough to log
        log.warning("readiness: the database is not answering (%s)", type(exc).__name__)
        return False
    return True


async def nlu_status(parser: Parser) -> dict[str, str]:
    """Each backend's state: `ok` or `down` (the embedded parser is in-process: always ok)."""
    if isinstance(parser, FallbackParser):
        async with asyncio.timeout(CHECK_TIMEOUT_S + 1):
            rasa = await parser.primary.reachable()
        return {"rasa": "ok" if rasa else "down", "embedded": "ok"}
    if isinstance(parser, EmbeddedParser):
        return {"embedded": "ok"}
    return {"other": "ok"}


async def readiness(
    sessions: async_sessionmaker[AsyncSession], parser: Parser | None
) -> tuple[bool, dict[str, Any]]:
    """(ready, details): ready when the database answers and (with a parser) some parser can."""
    if parser is None:
        database = await database_ok(sessions)
        return database, {"database": "ok" if database else "down"}
    database, nlu = await asyncio.gather(database_ok(sessions), nlu_status(parser))
    ready = database and "ok" in nlu.values()
    return ready, {"database": "ok" if database else "down", "nlu": nlu}


Probe = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def health_routes(probe: Probe) -> list[Route]:
    """`GET /healthz` (the process answers) and `GET /readyz` (`probe` says it can work)."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ready, details = await probe()
        details["status"] = "ready" if ready else "not ready"
        return JSONResponse(details, status_code=200 if ready else 503)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
