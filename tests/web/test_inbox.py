"""The web console: every role on every page, CSRF, login throttling, and the counsellor inbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.cases.repository import add_counsellor, open_case, set_duty
from bot.cases.seal import seal
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import AuditDB
from bot.db.repository import get_or_create_user
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from bot.web.security import SESSION_COOKIE
from tests.conftest import DESK_SETTINGS, MIDDAY_IN_NAIROBI, SECRET
from tests.fakes.request import RecordingRequest

PASSWORD = "correct horse battery"
YOUNG = "telegram:555000111"
ROLES = ("counsellor", "editor", "reviewer", "admin")
PAGES = ("/inbox", "/cases/1", "/cases/1/messages", "/audit")


@pytest.fixture
async def console(
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
    telegram: tuple[Bot, RecordingRequest],
) -> AsyncIterator[httpx.AsyncClient]:
    async with sessions() as session, session.begin():
        for role in ROLES:
            await add_user(session=session, username=role, password=PASSWORD, role=role)
        user = await get_or_create_user(session=session, user_id="y" * 64, channel="telegram")
        await open_case(
            session=session,
            user_id=user.id,
            channel="telegram",
            language="en",
            source="request",
            priority="normal",
            route=seal(SECRET, YOUNG),
        )
    desk = Desk(DESK_SETTINGS, Renderer(content), clock=lambda: MIDDAY_IN_NAIROBI)
    app = build_web_app(secret=SECRET, sessions=sessions, desk=desk, bot=telegram[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def csrf(client: httpx.AsyncClient, page: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(page)).text)
    assert found, page
    return found.group(1)


async def log_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    token = await csrf(client)
    return await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize("page", PAGES)
async def test_every_role_on_every_page(
    console: httpx.AsyncClient, role: str | None, page: str
) -> None:
    if role is not None:
        assert (await log_in(console, role)).status_code == 303
    response = await console.get(page)
    if role is None:
        assert response.status_code == 303 and response.headers["location"] == "/login"
    elif page == "/audit":
        assert response.status_code == (200 if role == "admin" else 403)
    elif role in ("counsellor", "admin"):
        assert response.status_code == 200, response.text[:200]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("path", ["/inbox/next", "/inbox/duty", "/cases/1/claim", "/logout"])
async def test_every_form_needs_the_csrf_token(console: httpx.AsyncClient, path: str) -> None:
    await log_in(console, "counsellor")
    assert (await console.post(path, data={})).status_code == 403
    assert (await console.post(path, data={"csrf_token": "forged"})).status_code == 403


async def test_the_login_form_needs_the_csrf_token_too(console: httpx.AsyncClient) -> None:
    response = await console.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 403


async def test_five_wrong_passwords_lock_the_account(console: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await log_in(console, "counsellor", "wrong password!!")).status_code == 401
    locked = await log_in(console, "counsellor")
    assert locked.status_code == 401 and "locked" in locked.text


async def test_a_web_claim_relays_both_ways_and_telegram_cannot_take_it(
    console: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    telegram: tuple[Bot, RecordingRequest],
    engine: DialogueEngine,
) -> None:
    _, sent = telegram
    async with sessions() as session, session.begin():
        staff = await add_counsellor(session=session, telegram_id=900001, name="Tele")
        await set_duty(session=session, counsellor_id=staff.id, on_duty=True)
    await log_in(console, "counsellor")
    inbox = await console.get("/inbox")
    assert "Case 1 · normal" in inbox.text
    token = await csrf(console, "/inbox")
    claimed = await console.post("/cases/1/claim", data={"csrf_token": token})
    assert claimed.status_code == 303 and claimed.headers["location"] == "/cases/1"
    joined = [p for m, p in sent.calls if m == "sendMessage"]
    assert (
        int(joined[-1]["chat_id"]) == 555000111 and "A counsellor has joined" in joined[-1]["text"]
    )

    telegram_take = Inbound(
        "s" * 64,
        "telegram",
        InboundKind.COMMAND,
        command="take",
        text="1",
        address="telegram:900001",
    )
    [refused] = await engine.handle(telegram_take)
    assert "No waiting case" in refused.text

    young = Inbound(
        "y" * 64, "telegram", InboundKind.TEXT, text="<script>alert(1)</script> hi", address=YOUNG
    )
    assert await engine.handle(young) == []  # kept for the web counsellor, nothing to send
    transcript = await console.get("/cases/1/messages")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hi" in transcript.text

    token = await csrf(console, "/cases/1")
    await console.post("/cases/1/reply", data={"csrf_token": token, "text": "I'm listening"})
    reply = [p for m, p in sent.calls if m == "sendMessage"][-1]
    assert int(reply["chat_id"]) == 555000111 and "listening" in reply["text"]
    assert "counsellor" not in reply["text"].split("</b>", 1)[1].lower()  # no username

    closed = await console.post("/cases/1/close", data={"csrf_token": token, "resolution": "ok"})
    assert closed.headers["location"] == "/inbox"
    rating = [p for m, p in sent.calls if m == "sendMessage"][-1]
    assert "How was it?" in rating["text"]
    async with sessions() as session:
        actions = [a.action for a in await session.scalars(select(AuditDB).order_by(AuditDB.id))]
    assert {"login", "case.take", "case.reply", "case.close"} <= set(actions)


async def test_a_case_that_is_not_yours_shows_no_transcript(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await add_user(session=session, username="second", password=PASSWORD, role="counsellor")
    await log_in(console, "counsellor")
    token = await csrf(console, "/inbox")
    await console.post("/cases/1/claim", data={"csrf_token": token})
    other = httpx.AsyncClient(transport=console._transport, base_url="http://testserver")
    async with other:
        await log_in(other, "second")
        assert (await other.get("/cases/1")).status_code == 403
        token = await csrf(other, "/inbox")
        reply: Any = await other.post("/cases/1/reply", data={"csrf_token": token, "text": "x"})
        assert reply.status_code == 403


async def test_an_account_removed_after_login_is_signed_out_at_once(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from bot.web.accounts import remove_user

    await log_in(console, "counsellor")
    assert (await console.get("/inbox")).status_code == 200
    async with sessions() as session, session.begin():
        assert await remove_user(session=session, username="counsellor")
    response = await console.get("/inbox")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def copy_of(console: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser holding a copy of this one's session cookie."""
    copy = httpx.AsyncClient(transport=console._transport, base_url="http://testserver")
    copy.cookies.set(SESSION_COOKIE, console.cookies[SESSION_COOKIE], domain="testserver.local")
    return copy


async def refused(client: httpx.AsyncClient, page: str) -> bool:
    response = await client.get(page)
    return response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize(("role", "page"), [("counsellor", "/inbox"), ("admin", "/audit")])
async def test_a_cookie_copied_before_logout_is_refused_after_it(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], role: str, page: str
) -> None:
    await log_in(console, role)
    async with copy_of(console) as copied:
        assert (await copied.get(page)).status_code == 200
        token = await csrf(console, page)
        assert (await console.post("/logout", data={"csrf_token": token})).status_code == 303
        assert await refused(copied, page)
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditDB.action)))
    assert actions == ["login"]


async def test_logout_ends_the_accounts_other_sessions_but_the_next_login_works(
    console: httpx.AsyncClient,
) -> None:
    await log_in(console, "counsellor")
    async with copy_of(console) as elsewhere:
        token = await csrf(console, "/inbox")
        await console.post("/logout", data={"csrf_token": token})
        assert await refused(elsewhere, "/inbox")
        assert (await log_in(elsewhere, "counsellor")).status_code == 303
        assert (await elsewhere.get("/inbox")).status_code == 200
        await log_in(console, "counsellor")
        assert (await console.get("/inbox")).status_code == 200, "a login ends no other session"


async def test_a_cookie_copied_before_a_password_change_is_refused_after_it(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "admin")
    async with copy_of(console) as copied:
        async with sessions() as session, session.begin():
            await add_user(session=session, username="admin", password=PASSWORD * 2, role="admin")
        assert await refused(copied, "/audit")
        assert await refused(console, "/audit")
    assert (await log_in(console, "admin", PASSWORD * 2)).status_code == 303
    assert (await console.get("/audit")).status_code == 200


async def test_a_cookie_copied_before_a_role_change_is_refused_even_after_it_is_undone(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "counsellor")
    async with copy_of(console) as copied:
        for role in ("editor", "counsellor"):  # and back: the role in the cookie matches again
            async with sessions() as session, session.begin():
                await add_user(session=session, username="counsellor", password=PASSWORD, role=role)
        assert await refused(copied, "/inbox")
        assert await refused(copied, "/cases/1")


async def test_the_audit_page_shows_who_did_what(console: httpx.AsyncClient) -> None:
    await log_in(console, "counsellor", "a wrong password")
    await log_in(console, "admin")
    page = await console.get("/audit")
    assert page.status_code == 200
    assert "login.failed" in page.text and ">admin<" in page.text
