"""A case nobody took within a day: the web chat is told through its outbox, the inbox says why."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.cases.repository import WAIT_LIMIT
from bot.db.models import CaseDB, utcnow
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Reply
from bot.web import outbox
from bot.web.accounts import add_user
from bot.web.app import _check_in_loop
from handlers.messages import deliver
from tests.conftest import SECRET
from tests.web.chat_client import Chat, english, text_of
from tests.web.test_inbox import PASSWORD, log_in


async def expire_through_the_web_timer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Run the web process's timer as its lifespan does, delivering as the app's `send` does."""
    to_web = outbox.writer(sessions, SECRET)
    sent: list[Reply] = []

    async def send(reply: Reply) -> None:
        await deliver(None, reply, outbox=to_web)
        sent.append(reply)

    timer = asyncio.create_task(_check_in_loop(engine, send, 0.01))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if sent:
            break
    timer.cancel()
    assert sent


async def test_an_expired_case_reaches_the_web_chat_and_the_inbox_says_why(
    app: Starlette,
    chat: Chat,
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await english(chat)
    await chat.send(payload="ask:talk_to_counsellor")
    shown = [r["id"] for r in (await chat.poll())["replies"]]
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="counsellor")
        await session.execute(
            update(CaseDB).values(opened_at=utcnow() - WAIT_LIMIT - timedelta(minutes=5))
        )
    await expire_through_the_web_timer(engine, sessions)
    words = text_of(await chat.poll(shown))
    assert "no counsellor was free" in words and "1199" in words and "/menu" in words
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as console:
        assert (await log_in(console, "amina")).status_code == 303
        inbox = (await console.get("/inbox")).text
    assert "No one is waiting." in inbox
    assert "Closed unanswered in the last 24 hours (1)" in inbox
    assert "Case 1 · normal" in inbox and "no counsellor took it within 24 hours" in inbox
