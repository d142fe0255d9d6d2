"""`/chat`: the anonymous web chat for young people without Telegram, on the same dialogue engine.

A first visit gets a random token in its own cookie (`healthbot_chat`: HttpOnly, SameSite=Lax,
path /chat, 30 days), never the staff session. The token is a bearer secret: never logged, and
stored only sealed in an open case (as a Telegram chat id is); the engine knows the chat by a
keyed hash of it, the outbox by another. Every API call
carries a CSRF token bound to the chat's token. Sends are rate-limited per chat, and replies are
sanitised to Telegram's few formatting tags before the page shows them. The page keeps the
conversation only in memory: a reload or a quick exit leaves nothing on the phone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import paths
from bot.content.render import Renderer
from bot.content.store import load_content
from bot.content.validate import CHAT_UI_KEYS
from bot.db.models import UserDB
from bot.dialogue.addresses import web_address
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import MAX_TEXT, Inbound, InboundKind, Reply
from bot.privacy import pseudonymise
from bot.web import outbox
from bot.web.deps import WebDeps
from bot.web.inputs import web_text
from bot.web.sanitise import sanitise, tel_links
from bot.web.security import CSRF_HEADER
from handlers.translate import command_name

log = logging.getLogger(__name__)

CHAT_COOKIE = "healthbot_chat"
COOKIE_SECONDS = 30 * 24 * 60 * 60
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
MAX_BODY = 8 * 1024
SENDS_PER_MINUTE = 30
POLLS_PER_MINUTE = 90  # one tab polls 20 times a minute
MAX_CURSOR = 2**31 - 1  # web_outbox.id is an `integer` on PostgreSQL
SCRIPT = Path(__file__).parent / "static" / "chat.js"
_CSRF_LABEL = b"healthbot web chat csrf v1"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}
LANGUAGES = ("en", "sw")
Texts = dict[str, dict[str, str]]  # language -> key -> text


class RateLimit:
    """At most `limit` events a minute per key, counted in this process's memory.

    Enough to stop one page or script flooding the engine; each process of a multi-process
    deployment counts on its own, and a restart forgets the counts.
    """

    MAX_KEYS = 10_000

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when it is over the limit (not counted then)."""
        now = self._clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        if len(self._events) > self.MAX_KEYS:
            self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event in the window, so memory stays bounded."""
        idle = [k for k, e in self._events.items() if not e or e[-1] <= now - self._window]
        for key in idle:
            del self._events[key]


def chat_routes(deps: WebDeps, *, https_only: bool = False) -> list[Route]:
    """The chat page, its script, and the send and poll calls."""
    script = SCRIPT.read_bytes()
    version = hashlib.sha256(script).hexdigest()[:12]
    sends, polls = RateLimit(SENDS_PER_MINUTE), RateLimit(POLLS_PER_MINUTE)
    loaded: list[PageWords] = []

    def words() -> PageWords:
        """The page's words and the helpline numbers (read once, on first use)."""
        if not loaded:
            loaded.append(page_words(deps))
        return loaded[0]

    async def page(request: Request) -> Response:
        token = chat_token(request) or secrets.token_urlsafe(32)
        if deps.dialogue is None:
            return _page(deps, request, words().texts, "en", token="", status=503)
        language = await _language(deps, user_id(deps.secret, token))
        response = _page(deps, request, words().texts, language, token=token, version=version)
        _set_cookie(response, request, token, https_only)
        return response

    async def app_js(_request: Request) -> Response:
        cache = {**HEADERS, "Cache-Control": "public, max-age=86400"}
        return Response(script, media_type="text/javascript; charset=utf-8", headers=cache)

    async def send(request: Request) -> Response:
        engine, token = deps.dialogue, chat_token(request)
        if engine is None:
            return _error(words(), "chat_unavailable", 503)
        if token is None or not _csrf_ok(deps.secret, token, request):
            return _error(words(), "chat_expired", 403)
        who = user_id(deps.secret, token)
        if not sends.allow(who):
            return _error(words(), "chat_slow_down", 429)
        body = await _read_body(request)
        if body is None:
            return _error(words(), "chat_too_long", 413)
        data = _json(body)
        inbound = inbound_from_json(data, who, web_address(token))
        answer = await _answer(deps, engine, inbound, data, words().numbers)
        return JSONResponse(answer, headers=HEADERS)

    async def poll(request: Request) -> Response:
        token = chat_token(request)
        if token is None or not _csrf_ok(deps.secret, token, request):
            return _error(words(), "chat_expired", 403)
        if not polls.allow(user_id(deps.secret, token)):
            return _error(words(), "chat_slow_down", 429)
        after = cursor_of(request.query_params.get("after"))
        async with deps.sessions() as session, session.begin():
            rows, cursor = await outbox.fetch(
                session=session, address=web_address(token), secret=deps.secret, after=after
            )
            replies = [_row_json(row.text, row.buttons, words().numbers) for row in rows]
        return JSONResponse({"replies": replies, "after": cursor}, headers=HEADERS)

    return [
        Route("/chat", page),
        Route("/chat/app.js", app_js),
        Route("/chat/send", send, methods=["POST"]),
        Route("/chat/poll", poll),
    ]


# identity -------------------------------------------------------------------------------------


def chat_token(request: Request) -> str | None:
    """The chat's token from its cookie, if it looks like one we make."""
    token = request.cookies.get(CHAT_COOKIE, "")
    return token if TOKEN.fullmatch(token) else None


def user_id(secret: str, token: str) -> str:
    """The engine's pseudonymous id for a web chat."""
    return pseudonymise(secret, "web", token)


def csrf_for(secret: str, token: str) -> str:
    """The CSRF token bound to a chat token (HMAC under a key derived from the secret)."""
    key = hmac.new(secret.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()


def _csrf_ok(secret: str, token: str, request: Request) -> bool:
    submitted = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(csrf_for(secret, token).encode(), submitted.encode())


def _set_cookie(response: Response, request: Request, token: str, https_only: bool) -> None:
    """(Re)set the chat cookie, so 30 days count from the last visit."""
    response.set_cookie(
        CHAT_COOKIE,
        token,
        max_age=COOKIE_SECONDS,
        path="/chat",
        secure=https_only or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


# the page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageWords:
    """The page's words in both languages, and the helpline numbers replies make tap-to-call."""

    texts: Texts
    numbers: tuple[str, ...]


def page_words(deps: WebDeps) -> PageWords:
    """The page's words from content/ui.yml, and helplines.yml's numbers."""
    store = deps.live.store if deps.live is not None else load_content(paths.CONTENT_DIR)
    renderer = Renderer(store)
    texts: Texts = {language: {} for language in LANGUAGES}
    for key in CHAT_UI_KEYS:
        for language in LANGUAGES:
            texts[language][key] = renderer.text(store.ui[key].get(language), language)
    return PageWords(texts, tuple(h.number for h in store.helplines.values()))


async def _language(deps: WebDeps, who: str) -> str:
    """The language this chat chose before, or English (also when the database is down)."""
    try:
        async with deps.sessions() as session:
            user = await session.get(UserDB, who)
    except Exception:
        log.warning("could not read a web chat's language", exc_info=True)
        return "en"
    return user.language if user is not None and user.language in LANGUAGES else "en"


def _page(
    deps: WebDeps,
    request: Request,
    texts: Texts,
    language: str,
    *,
    token: str,
    version: str = "",
    status: int = 200,
) -> Response:
    context = {
        "language": language,
        "text": texts[language],
        "texts": json.dumps(texts, ensure_ascii=False),
        "csrf": csrf_for(deps.secret, token) if token else "",
        "version": version,
        "available": status == 200,
    }
    return deps.templates.TemplateResponse(
        request, "chat.html", context, status_code=status, headers=PAGE_HEADERS
    )


def _error(words: PageWords, key: str, status: int) -> Response:
    """A kind JSON error in both languages (the page shows the one the chat uses)."""
    texts = words.texts
    body = {"error": texts["en"][key], "errors": {lang: texts[lang][key] for lang in LANGUAGES}}
    return JSONResponse(body, status_code=status, headers=HEADERS)


# sending --------------------------------------------------------------------------------------


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None when it is over MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


def _json(body: bytes) -> object:
    """The parsed body; None when it is not JSON."""
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data


def inbound_from_json(data: object, who: str, address: str) -> Inbound:
    """What the page sent, as the engine's message; anything else is MEDIA (a kind reply)."""
    fields = data if isinstance(data, dict) else {}
    payload, command = web_text(fields.get("payload")), web_text(fields.get("command"))
    text = web_text(fields.get("text"))
    if payload:
        return Inbound(who, "web", InboundKind.BUTTON, payload=payload[:256], address=address)
    if command.strip():
        text = "/" + command.strip().lstrip("/")
    if text.strip().startswith("/"):
        words = text.strip().split(maxsplit=1)
        argument = words[1][:MAX_TEXT] if len(words) > 1 else ""
        return Inbound(
            who,
            "web",
            InboundKind.COMMAND,
            command=command_name(text.strip()),
            text=argument,
            address=address,
        )
    if text.strip():
        return Inbound(who, "web", InboundKind.TEXT, text=text[:MAX_TEXT], address=address)
    latitude, longitude = (
        _degrees(fields.get("latitude"), 90),
        _degrees(fields.get("longitude"), 180),
    )
    if latitude is not None and longitude is not None:
        return Inbound(
            who,
            "web",
            InboundKind.LOCATION,
            latitude=latitude,
            longitude=longitude,
            address=address,
        )
    return Inbound(who, "web", InboundKind.MEDIA, address=address)


def _degrees(value: object, limit: int) -> float | None:
    """A finite number of degrees within ±limit (not a bool, not a string); else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and -limit <= value <= limit else None


async def _answer(
    deps: WebDeps, engine: DialogueEngine, inbound: Inbound, data: object, numbers: tuple[str, ...]
) -> dict[str, Any]:
    """Ask the engine; deliver replies meant for other chats; the rest go to the page."""
    replies = await engine.handle(inbound)
    mine: list[Reply] = []
    for reply in replies:
        if reply.to:
            await deps.deliver(reply)
        else:
            mine.append(reply)
    clear = any(r.delete_message_ids for r in mine) or _is_exit(engine, inbound)
    after = cursor_of(str(data.get("after", "")) if isinstance(data, dict) else None)
    shown = [_reply_json(r, numbers) for r in mine]
    return {"replies": shown, "after": after, "clear": clear}


def _is_exit(engine: DialogueEngine, inbound: Inbound) -> bool:
    """/exit, or `exit` or `toka` alone: the page forgets the conversation."""
    if inbound.kind is InboundKind.COMMAND:
        return inbound.command == "exit"
    return inbound.kind is InboundKind.TEXT and engine.safety.is_exit(inbound.text[:MAX_TEXT])


def cursor_of(value: str | None) -> int:
    """An outbox cursor from the page: ASCII digits, at most MAX_CURSOR; anything else is 0."""
    if not value or not (value.isascii() and value.isdigit()):
        return 0
    return MAX_CURSOR if len(value) > len(str(MAX_CURSOR)) else min(int(value), MAX_CURSOR)


def _html(text: str, numbers: tuple[str, ...]) -> str:
    """Reply text for the page: sanitised, helpline numbers tap-to-call."""
    return tel_links(sanitise(text), numbers)


def _reply_json(reply: Reply, numbers: tuple[str, ...]) -> dict[str, Any]:
    rows = [[{"label": b.label, "payload": b.payload} for b in row] for row in reply.buttons]
    return {"html": _html(reply.text, numbers), "buttons": rows, "location": reply.request_location}


def _row_json(text: str, buttons: object, numbers: tuple[str, ...]) -> dict[str, Any]:
    """An outbox row for the page (its buttons checked: only strings pass)."""
    rows = buttons if isinstance(buttons, list) else []
    clean = [
        [
            {"label": b["label"], "payload": b["payload"]}
            for b in row
            if isinstance(b, dict)
            and isinstance(b.get("label"), str)
            and isinstance(b.get("payload"), str)
        ]
        for row in rows
        if isinstance(row, list)
    ]
    return {"html": _html(text, numbers), "buttons": [r for r in clean if r], "location": ""}
