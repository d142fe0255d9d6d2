"""`healthbot run --webhook`: an ASGI server that takes Telegram updates, plus health and metrics.

Routes: `POST <path of WEBHOOK_URL>` (Telegram's updates, checked against WEBHOOK_SECRET),
`GET /healthz`, `GET /readyz`, `GET /metrics`. An update is answered inline and then acknowledged:
200 means its replies were sent (or it was a duplicate); 503 while the database is unreachable,
so Telegram delivers it again later and nothing is lost. An update that cannot be answered (an
update id past BIGINT, a message python-telegram-bot cannot read) is acknowledged with 200, never
answered, counted as `bad_update` and logged without its content: Telegram would deliver it again
forever.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest

from bot import metrics
from bot.app import ALLOWED_UPDATES, build_application, running
from bot.config import Settings
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import MAX_TEXT
from bot.health import health_routes, readiness
from bot.runtime import Runtime, prepare, settle_memory
from bot.updates import Claim, UpdateLedger
from bot.web import outbox as web_outbox

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1 << 20  # an update is a few kB; anything near this is not from Telegram
MAX_UPDATE_ID = (1 << 63) - 1  # telegram_updates.update_id is a BIGINT


def webhook_path(webhook_url: str) -> str:
    """The path Telegram posts to, e.g. `/telegram/webhook` (a reverse proxy maps it here)."""
    return urlsplit(webhook_url).path or "/"


class WebhookEndpoint:
    """Checks, deduplicates and answers one delivered update."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        ledger: UpdateLedger,
        secret: str,
    ) -> None:
        self._application = application
        self._ledger = ledger
        self._secret = secret.encode()

    async def __call__(self, request: Request) -> Response:
        """Answer Telegram's POST: 200 handled or duplicate; 4xx refused; 503 try again."""
        started = time.perf_counter()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return _outcome("forbidden", 403)
        body = await _read_body(request)
        if body is None:
            return _outcome("too_large", 413)
        data = _update_json(body)
        if data is None:
            return _outcome("bad_request", 400)
        update_id = int(data["update_id"])
        if update_id > MAX_UPDATE_ID:  # cannot be taken: acknowledged, or it comes back forever
            log.warning("webhook: update id out of range; acknowledged, not answered")
            return _outcome("bad_update", 200)
        try:
            claim = await self._ledger.take(update_id)
        except Exception as exc:  # the database is down: Telegram must deliver it again...
            metrics.error(exc)
            log.warning("webhook: update not taken, database unavailable (%s)", type(exc).__name__)
            if not self._crisis(data):
                return _outcome("unavailable", 503)
            # ...except a crisis: its answer needs no database, and it must not wait
            crisis = self._read(data)
            if crisis is None:
                return _outcome("unavailable", 503)
            await self._application.process_update(crisis)
            return _outcome("crisis_without_database", 200)
        if claim is Claim.DUPLICATE:
            return _outcome("duplicate", 200)
        if claim is Claim.IN_PROGRESS:
            return _outcome("in_progress", 503)
        update = self._read(data)
        if update is not None:
            await self._application.process_update(update)
        try:
            await self._ledger.handled(update_id)
        except Exception as exc:
            metrics.error(exc)
            log.warning("webhook: update answered but not marked (%s)", type(exc).__name__)
        if update is None:  # taken, and now marked: a redelivery is a duplicate
            return _outcome("bad_update", 200)
        metrics.UPDATE_SECONDS.observe(time.perf_counter() - started)
        return _outcome("handled", 200)

    def _read(self, data: dict[str, Any]) -> Update | None:
        """The update, or None (logged by type only) if python-telegram-bot cannot read it."""
        try:
            return Update.de_json(data, self._application.bot)
        except Exception as exc:  # any shape Telegram never sends
            log.warning(
                "webhook: malformed update (%s); acknowledged, not answered", type(exc).__name__
            )
            return None

    def _crisis(self, data: dict[str, Any]) -> bool:
        """Whether the update's text is a crisis by the rules (no database, no parser)."""
        message = data.get("message") or data.get("edited_message") or {}
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text.strip():
            return False
        engine: DialogueEngine | None = self._application.bot_data.dialogue
        return engine is not None and engine.safety.check(text[:MAX_TEXT]).detected


def _outcome(name: str, status: int) -> Response:
    metrics.WEBHOOK.labels(outcome=name).inc()
    return JSONResponse({"ok": status == 200, "outcome": name}, status_code=status)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _update_json(body: bytes) -> dict[str, Any] | None:
    """A JSON object with an integer `update_id`, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        return None
    return data


class BotServer:
    """The bot behind an ASGI server: prepared in the lifespan, in the server's own event loop."""

    def __init__(
        self,
        settings: Settings,
        *,
        request: BaseRequest | None = None,
        register_webhook: bool = True,
    ) -> None:
        self._settings = settings
        self._url, self._secret = settings.require_webhook()
        self._request = request
        self._register = register_webhook
        self._runtime: Runtime | None = None
        self._endpoint: WebhookEndpoint | None = None

    def app(self) -> Starlette:
        """The ASGI application."""
        routes = [
            Route(webhook_path(self._url), self._webhook, methods=["POST"]),
            *health_routes(self._probe),
            Route("/metrics", self._metrics, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        runtime = await prepare(self._settings)
        self._runtime = runtime
        metrics.watch_parser(runtime.parser)
        application = build_application(
            self._settings,
            dialogue=runtime.dialogue,
            request=self._request,
            outbox=web_outbox.writer(runtime.sessions, self._settings.healthbot_secret),
            external_updates=True,
        )
        try:
            async with running(application):
                if self._register:
                    await application.bot.set_webhook(
                        self._url,
                        secret_token=self._secret,
                        allowed_updates=list(ALLOWED_UPDATES),
                        drop_pending_updates=False,
                    )
                ledger = UpdateLedger(runtime.sessions)
                self._endpoint = WebhookEndpoint(application, ledger, self._secret)
                settle_memory()
                log.info("webhook ready at %s", webhook_path(self._url))
                try:
                    yield
                finally:
                    self._endpoint = None
        finally:
            await runtime.close()

    async def _webhook(self, request: Request) -> Response:
        if self._endpoint is None:
            return _outcome("unavailable", 503)
        return await self._endpoint(request)

    async def _probe(self) -> tuple[bool, dict[str, Any]]:
        if self._runtime is None:
            return False, {"database": "unknown", "nlu": {}}
        return await readiness(self._runtime.sessions, self._runtime.parser)

    async def _metrics(self, _request: Request) -> Response:
        if self._runtime is not None:
            with contextlib.suppress(Exception):  # the queue figures need the database
                await metrics.refresh_queue(self._runtime.sessions)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
