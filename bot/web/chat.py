"""`/chat`: the anonymous web chat for young people without Telegram, on the same dialogue engine.

A first visit gets a token the server signed in its own cookie (`healthbot_chat`: HttpOnly,
SameSite=Lax, path /chat, a session cookie), never the staff session; it goes idle after 12 hours
unused (bot.web.chat_session: phones are shared). Its identity is a bearer secret: never logged,
and stored only sealed in an open case (as a Telegram chat id is); the engine knows the chat by a
keyed hash of it, the outbox by another. Every API call carries a CSRF token bound to the chat's
identity. Sends are rate-limited per chat, and replies are sanitised to Telegram's few formatting
tags before the page shows them. The page keeps the conversation only in memory: a reload or a
quick exit leaves nothing on the phone. A quick exit, /exit or /delete ends the chat on the
server too: its token opens nothing again, its waiting messages are deleted, and after /delete
the page carries on with a new chat.

Safety comes first here too: a send's words go through the crisis check before the CSRF, rate
and size checks. A crisis over the rate limit still reaches the engine (case and all); any other
refused crisis gets the static safety answer, and every refusal carries the 24-hour helplines.
The quick exit (`POST /chat/exit`, sent by the page as it replaces itself with QUICK_EXIT_URL)
marks the open case "left by quick exit", ends the chat and expires its cookie.

Counsellors' messages wait in the outbox until the page acknowledges each by id (then they are
recorded as delivered on the desk); a page shows an id once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import paths
from bot.config import DEFAULT_QUICK_EXIT_URL
from bot.content.render import Renderer
from bot.content.store import load_content
from bot.content.validate import CHAT_UI_KEYS
from bot.db.models import UserDB
from bot.dialogue.engine import DialogueEngine, clean_text
from bot.dialogue.messages import MAX_TEXT, Call, Inbound, InboundKind, Reply
from bot.privacy import pseudonymise
from bot.safety.availability import UNREACHABLE
from bot.safety.service import TWENTY_FOUR_HOURS, helpline_calls
from bot.web import chat_session, outbox
from bot.web.deps import WebDeps
from bot.web.inputs import web_text
from bot.web.sanitise import sanitise, tel_links
from bot.web.security import CSRF_HEADER
from handlers.translate import command_name
from nlu.language import detect_language
from nlu.parser import Crisis

log = logging.getLogger(__name__)

CHAT_COOKIE = "healthbot_chat"
# A send's body is read up to here and no further. The longest message the engine reads is
# MAX_TEXT (4,096) characters; the worst of them as JSON is 4,096 emoji from an ASCII-only encoder
# (Python's json.dumps: "\ud83d\ude00", 12 bytes each), 49,185 bytes with its `after` cursor.
# A browser's JSON.stringify sends the same message as UTF-8: 16,417 bytes.
MAX_BODY = 64 * 1024
SENDS_PER_MINUTE = 30
CRISIS_SENDS_PER_MINUTE = 30  # crisis messages over the send limit that still reach the engine
EXITS_PER_MINUTE = 30  # quick exits the engine records (the cookie is expired every time)
POLLS_PER_MINUTE = 90  # one tab polls 20 times a minute
MAX_ID = 2**31 - 1  # web_outbox.id is an `integer` on PostgreSQL
MAX_ACKS = outbox.FETCH_LIMIT  # a poll acknowledges at most one fetch's worth of messages
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

    def count(self, key: str) -> None:
        """Count one event for `key` over the limit (a crisis let through all the same)."""
        self._events.setdefault(key, deque()).append(self._clock())

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event in the window, so memory stays bounded."""
        idle = [k for k, e in self._events.items() if not e or e[-1] <= now - self._window]
        for key in idle:
            del self._events[key]


def chat_routes(
    deps: WebDeps, *, https_only: bool = False, quick_exit_url: str = DEFAULT_QUICK_EXIT_URL
) -> list[Route]:
    """The chat page, its script, and the send, poll and quick exit calls."""
    script = SCRIPT.read_bytes()
    version = hashlib.sha256(script).hexdigest()[:12]
    sends, polls = RateLimit(SENDS_PER_MINUTE), RateLimit(POLLS_PER_MINUTE)
    crisis_sends, exits = RateLimit(CRISIS_SENDS_PER_MINUTE), RateLimit(EXITS_PER_MINUTE)
    loaded: list[PageWords] = []

    def words() -> PageWords:
        """The page's words and the helpline numbers (read once, on first use)."""
        if not loaded:
            loaded.append(page_words(deps))
        return loaded[0]

    async def page(request: Request) -> Response:
        if deps.dialogue is None:
            return _page(deps, request, words(), "en", quick_exit_url, chat=None, status=503)
        chat = await _open_chat(deps, chat_session.read(deps.secret, chat_token(request)))
        if chat is None:  # a first visit, or an ended or idle chat: a new one
            token, chat = chat_session.issue(deps.secret)
        else:
            token = chat_session.sign(deps.secret, chat.identity)
        language = await _language(deps, user_id(deps.secret, chat.identity))
        response = _page(
            deps, request, words(), language, quick_exit_url, chat=chat, version=version
        )
        _set_cookie(response, request, token, https_only)
        return response

    async def app_js(_request: Request) -> Response:
        cache = {**HEADERS, "Cache-Control": "public, max-age=86400"}
        return Response(script, media_type="text/javascript; charset=utf-8", headers=cache)

    async def send(request: Request) -> Response:
        """Read the words first and check them for a crisis; only then the other checks."""
        body, whole = await _read_body(request)
        data = _json(body) if whole else None
        text = message_text(body, data, whole=whole)[:MAX_TEXT]  # what the engine reads
        language = detect_language(text) if text.strip() else "en"
        engine, chat = deps.dialogue, chat_session.read(deps.secret, chat_token(request))
        if engine is None:  # no safety service either: the helplines, and nothing else
            return _error(words(), "chat_unavailable", 503, language=language)
        crisis = engine.safety.check(text) if text.strip() else Crisis()

        def refuse(key: str, status: int) -> Response:
            """A refusal; a crisis also gets the safety answer that needs no database."""
            answer = (
                engine.safety.answer("html", language, crisis, UNREACHABLE)
                if crisis.detected
                else None
            )
            return _error(words(), key, status, language=language, answer=answer)

        if chat is None or not _csrf_ok(deps.secret, chat.identity, request):
            return refuse("chat_expired", 403)  # not this chat's page: no case is opened
        if not whole:
            return refuse("chat_too_long", 413)
        who = user_id(deps.secret, chat.identity)
        if not sends.allow(who):
            if not (crisis.detected and crisis_sends.allow(who)):
                return refuse("chat_slow_down", 429)
            sends.count(who)  # the crisis goes to the engine, and keeps the chat slowed down
        if await _open_chat(deps, chat) is None:
            return refuse("chat_expired", 403)  # ended on this phone: it opens nothing again
        inbound = inbound_from_json(data, who, chat.address)
        answer, replies = await _answer(deps, engine, inbound, words().numbers)
        if _is_exit(engine, inbound):  # the page leaves: the chat ends, the cookie goes
            await _end(deps, chat)
            response = JSONResponse(answer, headers=HEADERS)
            _expire_cookie(response, request, https_only)
            return response
        if any(r.ends_session for r in replies):  # /delete: carry on as a new chat
            await _end(deps, chat)
            token, renewed = chat_session.issue(deps.secret)
            answer |= {"renewed": True, "csrf": csrf_for(deps.secret, renewed.identity)}
            response = JSONResponse(answer, headers=HEADERS)
            _set_cookie(response, request, token, https_only)
            return response
        response = JSONResponse(answer, headers=HEADERS)
        _renew(response, request, deps.secret, chat, https_only)
        return response

    async def poll(request: Request) -> Response:
        """Acknowledge the messages the page showed (`ack`: their ids) and fetch the rest."""
        chat = chat_session.read(deps.secret, chat_token(request))
        if chat is None or not _csrf_ok(deps.secret, chat.identity, request):
            return _error(words(), "chat_expired", 403)
        if not polls.allow(user_id(deps.secret, chat.identity)):
            return _error(words(), "chat_slow_down", 429)
        shown = acks_of(request.query_params.get("ack"))
        async with deps.sessions() as session, session.begin():
            if await chat_session.is_ended(session=session, secret=deps.secret, chat=chat):
                return _error(words(), "chat_expired", 403)
            await outbox.acknowledge(
                session=session, address=chat.address, secret=deps.secret, ids=shown
            )
            rows = await outbox.fetch(session=session, address=chat.address, secret=deps.secret)
            replies = [_row_json(row.id, row.text, row.buttons, words().numbers) for row in rows]
        response = JSONResponse({"replies": replies}, headers=HEADERS)
        _renew(response, request, deps.secret, chat, https_only)
        return response

    async def leave(request: Request) -> Response:
        """The quick exit: the engine marks the open case left; the chat cookie is expired.

        Like every refused call, one without this chat's cookie and CSRF token changes nothing.
        """
        engine, chat = deps.dialogue, chat_session.read(deps.secret, chat_token(request))
        if chat is None or not _csrf_ok(deps.secret, chat.identity, request):
            return _error(words(), "chat_expired", 403)
        if engine is not None and exits.allow(user_id(deps.secret, chat.identity)):
            if await _open_chat(deps, chat) is not None:
                await _quick_exit(deps, engine, chat)
            await _end(deps, chat)
        response = JSONResponse({"left": True}, headers=HEADERS)
        _expire_cookie(response, request, https_only)
        return response

    return [
        Route("/chat", page),
        Route("/chat/app.js", app_js),
        Route("/chat/send", send, methods=["POST"]),
        Route("/chat/poll", poll),
        Route("/chat/exit", leave, methods=["POST"]),
    ]


# identity -------------------------------------------------------------------------------------


def chat_token(request: Request) -> str | None:
    """The chat's token from its cookie (chat_session.read checks it)."""
    return request.cookies.get(CHAT_COOKIE) or None


def user_id(secret: str, identity: str) -> str:
    """The engine's pseudonymous id for a web chat."""
    return pseudonymise(secret, "web", identity)


def csrf_for(secret: str, identity: str) -> str:
    """The CSRF token bound to a chat's identity (HMAC under a key derived from the secret)."""
    key = hmac.new(secret.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return hmac.new(key, identity.encode("ascii"), hashlib.sha256).hexdigest()


def _csrf_ok(secret: str, identity: str, request: Request) -> bool:
    submitted = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(csrf_for(secret, identity).encode(), submitted.encode())


async def _open_chat(
    deps: WebDeps, chat: chat_session.ChatSession | None
) -> chat_session.ChatSession | None:
    """The chat if it is valid and was not ended (an ended one opens nothing)."""
    if chat is None:
        return None
    async with deps.sessions() as session:
        ended = await chat_session.is_ended(session=session, secret=deps.secret, chat=chat)
    return None if ended else chat


async def _end(deps: WebDeps, chat: chat_session.ChatSession) -> None:
    """End a chat on the server (its token opens nothing again; its outbox is emptied)."""
    async with deps.sessions() as session, session.begin():
        await chat_session.end(session=session, secret=deps.secret, chat=chat)


def _renew(
    response: Response,
    request: Request,
    secret: str,
    chat: chat_session.ChatSession,
    https_only: bool,
) -> None:
    """Re-sign the cookie of a chat in use (the same identity), so it does not go idle."""
    if chat.stale:
        _set_cookie(response, request, chat_session.sign(secret, chat.identity), https_only)


def _set_cookie(response: Response, request: Request, token: str, https_only: bool) -> None:
    """Set the chat cookie: a session cookie (the token itself goes idle on the server)."""
    response.set_cookie(
        CHAT_COOKIE,
        token,
        path="/chat",
        secure=https_only or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def _expire_cookie(response: Response, request: Request, https_only: bool) -> None:
    """Expire the chat cookie (Max-Age=0, the same path and attributes): a quick exit."""
    response.delete_cookie(
        CHAT_COOKIE,
        path="/chat",
        secure=https_only or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


# the page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageWords:
    """The page's words in both languages, the helpline numbers replies make tap-to-call, and
    the 24-hour helplines every refusal carries (by language)."""

    texts: Texts
    numbers: tuple[str, ...]
    calls: dict[str, tuple[Call, ...]]


def page_words(deps: WebDeps) -> PageWords:
    """The page's words from content/ui.yml, and helplines.yml's numbers and names."""
    store = deps.live.store if deps.live is not None else load_content(paths.CONTENT_DIR)
    renderer = Renderer(store)
    texts: Texts = {language: {} for language in LANGUAGES}
    for key in CHAT_UI_KEYS:
        for language in LANGUAGES:
            texts[language][key] = renderer.text(store.ui[key].get(language), language)
    calls = {
        language: helpline_calls(renderer, TWENTY_FOUR_HOURS, language) for language in LANGUAGES
    }
    return PageWords(texts, tuple(h.number for h in store.helplines.values()), calls)


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
    words: PageWords,
    language: str,
    quick_exit_url: str,
    *,
    chat: chat_session.ChatSession | None,
    version: str = "",
    status: int = 200,
) -> Response:
    calls = {lang: _calls_json(words.calls[lang]) for lang in LANGUAGES}
    context = {
        "language": language,
        "text": words.texts[language],
        "texts": json.dumps(words.texts, ensure_ascii=False),
        "calls": words.calls[language],
        "helplines": json.dumps(calls, ensure_ascii=False),
        "quick_exit_url": quick_exit_url,
        "csrf": csrf_for(deps.secret, chat.identity) if chat else "",
        "version": version,
        "available": status == 200,
    }
    return deps.templates.TemplateResponse(
        request, "chat.html", context, status_code=status, headers=PAGE_HEADERS
    )


def _error(
    words: PageWords, key: str, status: int, *, language: str = "en", answer: Reply | None = None
) -> Response:
    """A kind JSON refusal in both languages (the page shows the one the chat uses), with the
    24-hour helplines in `language`; a crisis's safety answer goes first, as a reply."""
    texts = words.texts
    shown = [] if answer is None else [_reply_json(replace(answer, buttons=()), words.numbers)]
    body = {
        "error": texts["en"][key],
        "errors": {lang: texts[lang][key] for lang in LANGUAGES},
        "calls": _calls_json(words.calls[language if language in LANGUAGES else "en"]),
        "replies": shown,  # its buttons are dropped: this page cannot send them
    }
    return JSONResponse(body, status_code=status, headers=HEADERS)


# sending --------------------------------------------------------------------------------------


async def _read_body(request: Request) -> tuple[bytes, bool]:
    """The body up to MAX_BODY, and whether that is all of it (nothing past MAX_BODY is read)."""
    declared = request.headers.get("content-length", "")
    whole = not (declared.isdigit() and int(declared) > MAX_BODY)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return bytes(body[:MAX_BODY]), False
    return bytes(body), whole


_TEXT_FIELD = re.compile(r'"text"\s*:\s*"')
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)  # a JSON string's inside
_CUT_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?$")


def message_text(body: bytes, data: object, *, whole: bool) -> str:
    """The words of a send, for the crisis check: JSON's `text`, or what the bytes say when the
    body was cut off at MAX_BODY or is not JSON (a `"text": "…"` in it read as far as it goes)."""
    if whole and data is not None:
        text = web_text(data.get("text")) if isinstance(data, dict) else ""
    else:
        text = _prefix_text(body.decode("utf-8", errors="ignore"))
    return clean_text(text)


def _prefix_text(decoded: str) -> str:
    """The `text` string of a JSON body that may be cut off, else the whole decoded body."""
    found = _TEXT_FIELD.search(decoded)
    if found is None:
        return decoded.replace("\x00", "")
    inside = _STRING_BODY.match(decoded, found.end())
    raw = _CUT_ESCAPE.sub("", inside.group() if inside else "")
    try:
        return web_text(json.loads(f'"{raw}"', strict=False))
    except ValueError:
        return raw.replace("\x00", "")


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


async def _quick_exit(
    deps: WebDeps, engine: DialogueEngine, chat: chat_session.ChatSession
) -> None:
    """The engine's quick exit (the open case is marked left; a counsellor on Telegram told)."""
    inbound = Inbound(
        user_id(deps.secret, chat.identity),
        "web",
        InboundKind.COMMAND,
        command="exit",
        address=chat.address,
    )
    try:
        for reply in await engine.handle(inbound):
            if reply.to:
                await deps.deliver(reply)
    except Exception:
        log.exception("a web chat's quick exit did not reach a counsellor")


async def _answer(
    deps: WebDeps, engine: DialogueEngine, inbound: Inbound, numbers: tuple[str, ...]
) -> tuple[dict[str, Any], list[Reply]]:
    """Ask the engine; deliver replies meant for other chats; the rest go to the page."""
    replies = await engine.handle(inbound)
    mine: list[Reply] = []
    for reply in replies:
        if reply.to:
            await deps.deliver(reply)
        else:
            mine.append(reply)
    clear = _is_exit(engine, inbound)
    shown = [_reply_json(r, numbers) for r in mine]
    return {"replies": shown, "clear": clear}, mine


def _is_exit(engine: DialogueEngine, inbound: Inbound) -> bool:
    """/exit, or `exit` or `toka` alone: the page forgets the conversation."""
    if inbound.kind is InboundKind.COMMAND:
        return inbound.command == "exit"
    return inbound.kind is InboundKind.TEXT and engine.safety.is_exit(inbound.text[:MAX_TEXT])


def acks_of(value: str | None) -> set[int]:
    """Outbox ids the page acknowledges: `ack=12,13`, ASCII digits up to MAX_ID, at most
    MAX_ACKS of them; anything else in the list is ignored."""
    ids: set[int] = set()
    for part in (value or "").split(",")[:MAX_ACKS]:
        if part.isascii() and part.isdigit() and len(part) <= len(str(MAX_ID)):
            number = int(part)
            if 0 < number <= MAX_ID:
                ids.add(number)
    return ids


def _html(text: str, numbers: tuple[str, ...]) -> str:
    """Reply text for the page: sanitised, helpline numbers tap-to-call."""
    return tel_links(sanitise(text), numbers)


def _calls_json(calls: tuple[Call, ...]) -> list[dict[str, str]]:
    """Tap-to-call helplines for the page: each a label and a number of digits."""
    return [{"label": c.label, "number": c.number} for c in calls if c.number.isdigit()]


def _reply_json(reply: Reply, numbers: tuple[str, ...]) -> dict[str, Any]:
    rows = [[{"label": b.label, "payload": b.payload} for b in row] for row in reply.buttons]
    return {
        "html": _html(reply.text, numbers),
        "buttons": rows,
        "location": reply.request_location,
        "calls": _calls_json(reply.calls),
    }


def _row_json(row_id: int, text: str, buttons: object, numbers: tuple[str, ...]) -> dict[str, Any]:
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
    return {
        "id": row_id,
        "html": _html(text, numbers),
        "buttons": [r for r in clean if r],
        "location": "",
        "calls": [],
    }
