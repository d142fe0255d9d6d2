"""`healthbot web`: the console for counsellors, editors, reviewers and admins, and the web chat.

A Starlette application with Jinja2 templates (autoescaped) and a little JavaScript; sessions in a
signed, HttpOnly, SameSite=strict cookie; a CSRF token on every form; logins throttled per address
and in how many hash at once (`throttle`), and locked after failures in the database; every case
action written to the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from telegram import Bot

from bot.cases import receipts
from bot.config import DEFAULT_QUICK_EXIT_URL
from bot.content.live import LiveContent
from bot.db.models import utcnow
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Reply
from bot.health import health_routes, readiness
from bot.web import outbox
from bot.web.accounts import audit, authenticate, end_sessions, recent_audit, user_by_id
from bot.web.chat import chat_routes
from bot.web.content import content_routes
from bot.web.deps import WebDeps, signed_in
from bot.web.headers import SecurityHeaders, console_headers
from bot.web.inbox import inbox_routes
from bot.web.inputs import has_control_characters, printable, use_database_ids
from bot.web.insight import insight_routes
from bot.web.limits import BodyLimit
from bot.web.security import check_csrf, csrf_token, login, logout, session_middleware
from bot.web.throttle import LoginThrottle, Throttled
from handlers.messages import deliver

TEMPLATES = Path(__file__).parent / "templates"
CHECK_IN_SWEEP_S = 15.0  # how often the console queues check-ins nobody answered
HOME = {"counsellor": "/inbox", "admin": "/inbox", "editor": "/content", "reviewer": "/review"}


def build_web_app(
    *,
    secret: str,
    sessions: async_sessionmaker[AsyncSession],
    desk: Desk,
    bot: Bot | None,
    https_only: bool = False,
    live: LiveContent | None = None,
    dialogue: DialogueEngine | None = None,
    quick_exit_url: str = DEFAULT_QUICK_EXIT_URL,
    login_throttle: LoginThrottle | None = None,
) -> Starlette:
    """The console (and, with `dialogue`, the web chat).

    `bot` delivers counsellors' replies to Telegram (None: not delivered); `live` is the content
    the editors' pages work on and reload after a publish; the web chat's quick exit replaces
    its page with `quick_exit_url`. Logins are throttled by `login_throttle` (the defaults of
    `LoginThrottle` when None).
    """
    throttle = login_throttle if login_throttle is not None else LoginThrottle()
    templates = Jinja2Templates(directory=str(TEMPLATES))
    to_web, delivered = outbox.writer(sessions, secret), receipts.recorder(sessions)

    async def send(reply: Reply) -> None:
        """Deliver a reply for another chat: a web chat's outbox, or Telegram."""
        await deliver(bot, reply, outbox=to_web, receipts=delivered)

    async def home(request: Request) -> Response:
        role = request.session.get("role")
        return RedirectResponse(HOME.get(str(role), "/login"), status_code=303)

    async def login_page(request: Request) -> Response:
        return _login_form(templates, request)

    async def login_submit(request: Request) -> Response:
        await check_csrf(request)
        form = await request.form()
        typed = str(form.get("username", ""))[:64]
        # No account name has a control character (NUL cannot even be stored): none matches.
        username = "" if has_control_characters(typed) else typed
        address = request.client.host if request.client is not None else "-"
        try:
            async with throttle.attempt(address), sessions() as session, session.begin():
                user = await authenticate(
                    session=session,
                    username=username,
                    password=str(form.get("password", "")),
                    now=utcnow(),
                )
                outcome = "login" if user is not None else "login.failed"
                actor = printable(typed) or "-"
                await audit(session=session, actor=actor, action=outcome, target="console")
        except Throttled as refused:  # nothing hashed, nothing written: a flood costs little
            response = _login_form(
                templates, request, "Too many sign-in attempts: wait a minute and try again.", 429
            )
            response.headers["Retry-After"] = str(refused.retry_after)
            return response
        if user is None:
            return _login_form(
                templates,
                request,
                "Wrong username or password, or locked: wait 15 minutes after 5 failures.",
                401,
            )
        login(request, user)
        return RedirectResponse(HOME.get(user.role, "/inbox"), status_code=303)

    async def audit_page(request: Request) -> Response:
        async with sessions() as session:
            user_id = await signed_in(session, request, "admin")
            user = await user_by_id(session=session, user_id=user_id)
            if user is None:  # signed_in has just read it
                return RedirectResponse("/login", status_code=303)
            rows = await recent_audit(session=session, limit=200)
        context = {
            "rows": rows,
            "csrf": csrf_token(request),
            "username": user.username,
            "role": user.role,
            "flash": "",
        }
        return templates.TemplateResponse(request, "audit.html", context)

    async def logout_submit(request: Request) -> Response:
        await check_csrf(request)
        user_id, version = request.session.get("user_id"), request.session.get("version")
        if isinstance(user_id, int) and isinstance(version, int):  # copies die with it
            async with sessions() as session, session.begin():
                await end_sessions(session=session, user_id=user_id, version=version)
        logout(request)
        return RedirectResponse("/login", status_code=303)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sweeper = (
            asyncio.create_task(_check_in_loop(dialogue, send)) if dialogue is not None else None
        )
        try:
            if bot is None:
                yield
            else:
                async with bot:
                    yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if dialogue is not None:
                await dialogue.write_unlinked()

    deps = WebDeps(sessions, desk, templates, send, secret=secret, live=live, dialogue=dialogue)
    use_database_ids()  # before the routes: `{case_id:id}` is at most 9 digits
    routes = [
        Route("/", home),
        Route("/login", login_page),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout_submit, methods=["POST"]),
        Route("/audit", audit_page),
        *inbox_routes(deps),
        *content_routes(deps),
        *insight_routes(deps),
        *chat_routes(deps, https_only=https_only, quick_exit_url=quick_exit_url),
        *health_routes(lambda: readiness(sessions, None)),
    ]
    headers = console_headers(TEMPLATES)

    async def server_error(_request: Request, _exc: Exception) -> Response:
        """The 500 page (outside every middleware), with the headers all the same."""
        return PlainTextResponse("Internal Server Error", 500, headers=headers)

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, headers=headers),
            Middleware(BodyLimit),
            session_middleware(secret, https_only=https_only),
        ],
        exception_handlers={500: server_error},
        lifespan=lifespan,
    )


async def _check_in_loop(
    dialogue: DialogueEngine,
    send: Callable[[Reply], Awaitable[None]],
    interval_s: float = CHECK_IN_SWEEP_S,
) -> None:
    """Queue check-ins nobody answered and expire cases nobody took (telling the young person
    through `send`), for a deployment with no Telegram process (whose case timer does both and
    alerts); the web inbox shows them."""
    while True:
        await asyncio.sleep(interval_s)
        await dialogue.queue_unanswered_check_ins()
        for reply in await dialogue.expire_waiting_cases():
            await send(reply)


def _login_form(
    templates: Jinja2Templates, request: Request, error: str = "", status: int = 200
) -> Response:
    context = {"csrf": csrf_token(request), "error": error, "username": "", "flash": ""}
    return templates.TemplateResponse(request, "login.html", context, status_code=status)
