"""A shared phone: a web chat's session ends with quick exit, /exit and /delete, or goes idle.

Issue 17: the chat cookie lived 30 days and none of these rotated it; the next person holding
the phone saw /mydata's topics, re-polled earlier messages and could write into the open case.
Any 43-character token was accepted as a chat (a flood made a user row each).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.db.models import CaseDB, UserDB, WebOutboxDB
from bot.dialogue.messages import Reply
from bot.web import chat_session, outbox
from bot.web.chat import CHAT_COOKIE, csrf_for
from tests.conftest import SECRET
from tests.web.chat_client import Chat, client_of, english, payloads_of, text_of

Sessions = async_sessionmaker[AsyncSession]


class Copied:
    """The cookie and page token someone copied off the phone before the young person left."""

    def __init__(self, app: Starlette, chat: Chat) -> None:
        self.app, self.cookie, self.csrf = app, chat.token, chat.csrf

    async def poll(self) -> httpx.Response:
        async with self._browser() as browser:
            headers = {"X-CSRF-Token": self.csrf}
            return await browser.get("/chat/poll?ack=", headers=headers)

    async def send(self, **body: Any) -> httpx.Response:
        async with self._browser() as browser:
            headers = {"X-CSRF-Token": self.csrf}
            return await browser.post("/chat/send", json=body, headers=headers)

    def _browser(self) -> httpx.AsyncClient:
        browser = client_of(self.app)
        browser.cookies.set(CHAT_COOKIE, self.cookie, domain="testserver.local", path="/chat")
        return browser


async def waiting_reply(sessions: Sessions, identity: str) -> None:
    """A counsellor's message for the chat goes to the outbox."""
    address = f"web:{identity}"
    async with sessions() as session, session.begin():
        await outbox.post(session=session, reply=Reply("Are you okay?", to=address), secret=SECRET)


async def rows(sessions: Sessions, table: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize("leave", ["quick exit", "/exit", "toka"])
async def test_leaving_ends_the_chat_for_whoever_copied_its_cookie(
    app: Starlette, chat: Chat, sessions: Sessions, leave: str
) -> None:
    await english(chat)
    await chat.send(payload="ask:talk_to_counsellor")
    copied, identity = Copied(app, chat), chat.identity(SECRET)
    await waiting_reply(sessions, identity)
    assert (await copied.poll()).json()["replies"], "the copy works while the chat is open"

    if leave == "quick exit":
        response = await chat.client.post("/chat/exit", headers={"X-CSRF-Token": chat.csrf})
    else:
        response = await chat.post({"text": leave})
    assert response.status_code == 200 and "Max-Age=0" in response.headers["set-cookie"]

    assert (await copied.poll()).status_code == 403
    refused = await copied.send(text="it's me again, did they answer?")
    assert refused.status_code == 403
    assert await rows(sessions, WebOutboxDB) == 0, "its waiting messages went with it"
    await waiting_reply(sessions, identity)  # a counsellor writes after they left
    assert await rows(sessions, WebOutboxDB) == 0, "nothing is kept for a chat that ended"
    async with sessions() as session:
        [case] = list(await session.scalars(select(CaseDB)))
    assert case.left_how == "quick_exit"


async def test_delete_starts_a_new_chat_and_the_old_cookie_opens_nothing(
    app: Starlette, chat: Chat, sessions: Sessions
) -> None:
    await english(chat)
    await chat.send(text="how do i get tested for hiv")
    old_identity = chat.identity(SECRET)
    copied = Copied(app, chat)
    confirm = await chat.send(command="delete")
    [yes] = [p for p in payloads_of(confirm) if p.startswith("erase:yes")]

    done = await chat.send(payload=yes)

    assert done["renewed"] is True and done["csrf"] != chat.csrf
    assert chat.identity(SECRET) != old_identity, "the browser got a new chat's cookie"
    assert (await copied.poll()).status_code == 403
    assert (await copied.send(command="mydata")).status_code == 403
    chat.csrf = done["csrf"]  # as the page does
    mine = text_of(await chat.send(command="mydata"))
    assert "HIV" not in mine and "hiv" not in mine


async def test_a_token_the_server_did_not_sign_opens_no_chat_and_makes_no_row(
    app: Starlette, sessions: Sessions
) -> None:
    made_up = "A" * 43
    async with client_of(app) as browser:
        browser.cookies.set(CHAT_COOKIE, made_up, domain="testserver.local", path="/chat")
        for _ in range(5):
            sent = await browser.post(
                "/chat/send",
                json={"text": "hello"},
                headers={"X-CSRF-Token": csrf_for(SECRET, made_up)},
            )
            assert sent.status_code == 403
        page = await browser.get("/chat")  # the page gives it a real chat instead
        issued = chat_session.read(SECRET, browser.cookies.get(CHAT_COOKIE, path="/chat"))
    assert page.status_code == 200 and issued is not None and issued.identity != made_up
    assert await rows(sessions, UserDB) == 0


async def test_a_chat_unused_for_twelve_hours_is_over(
    app: Starlette, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await english(chat)
    identity = chat.identity(SECRET)
    thirteen_hours_ago = time.time() - 13 * 3600
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: thirteen_hours_ago)
        old = chat_session.sign(SECRET, identity)
    chat.client.cookies.set(CHAT_COOKIE, old, domain="testserver.local", path="/chat")
    assert (await chat.post({"text": "hello"})).status_code == 403
    await chat.open()
    assert chat.identity(SECRET) != identity, "the next visit is a new chat"


async def test_a_chat_in_use_is_renewed_and_keeps_its_identity(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = chat.identity(SECRET)
    eleven_minutes_ago = time.time() - 11 * 60
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: eleven_minutes_ago)
        old = chat_session.sign(SECRET, identity)
    chat.client.cookies.set(CHAT_COOKIE, old, domain="testserver.local", path="/chat")
    response = await chat.client.get("/chat/poll?ack=", headers={"X-CSRF-Token": chat.csrf})
    assert response.status_code == 200 and CHAT_COOKIE in response.headers["set-cookie"]
    assert chat.token != old and chat.identity(SECRET) == identity
