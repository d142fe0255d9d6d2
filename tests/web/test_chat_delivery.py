"""A counsellor's messages reach the web chat, each once, however long the counsellor pauses.

Issue 17: on SQLite the outbox reused a deleted row's id, so a message written after the page had
polled twice could get an id at or below the page's cursor and be deleted unseen (0 of 3 replies
and the close notice arrived with 8 s pauses). Now ids are never reused and the page acknowledges
each message by id; the counsellor sees each reply sent, then delivered.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import CaseMessageDB, WebOutboxDB
from bot.db.session import create_engine, session_factory
from bot.dialogue.addresses import telegram_address
from bot.dialogue.messages import Reply
from bot.web.accounts import add_user
from handlers.messages import deliver
from nlu.embedded import EmbeddedParser
from tests.fakes.request import RecordingRequest
from tests.web.chat_client import Chat, client_of, english, text_of
from tests.web.test_authorisation_matrix import whole_app

PASSWORD = "correct horse battery"
REPLIES = ("First: I'm here.", "Second: take your time.", "Third: you did the right thing.")


async def _console(client: httpx.AsyncClient, page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(page)).text)
    assert found, page
    return found.group(1)


async def _conversation(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, parser: EmbeddedParser
) -> tuple[list[str], str, list[CaseMessageDB]]:
    """A counsellor writes three replies and closes, the page polling many times in between
    (each pause longer than the page's 3 s poll interval is several polls); what the page
    showed, the counsellor's transcript page, and the relayed rows."""
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="counsellor")
    app = await whole_app(sessions, content, parser)
    shown: list[str] = []
    async with client_of(app) as young, client_of(app) as staff:
        chat = Chat(young)
        await chat.open()
        await english(chat)
        await chat.send(payload="ask:talk_to_counsellor")
        login = {"username": "amina", "password": PASSWORD}
        login["csrf_token"] = await _console(staff, "/login")
        assert (await staff.post("/login", data=login)).status_code == 303
        csrf = await _console(staff, "/inbox")
        assert (await staff.post("/cases/1/claim", data={"csrf_token": csrf})).status_code == 303

        seen: set[int] = set()
        unacknowledged: list[int] = []

        async def pause() -> None:
            """The page polls four times, acknowledging what it showed, as chat.js does."""
            nonlocal unacknowledged
            for _ in range(4):
                data = await chat.poll(unacknowledged)
                unacknowledged = []
                for reply in data["replies"]:
                    if reply["id"] not in seen:
                        seen.add(reply["id"])
                        unacknowledged.append(reply["id"])
                        shown.append(text_of({"replies": [reply]}))

        await pause()
        for text in REPLIES:
            said = {"csrf_token": csrf, "text": text}
            assert (await staff.post("/cases/1/reply", data=said)).status_code == 303
            await pause()
        transcript = (await staff.get("/cases/1/messages")).text
        async with sessions() as session:  # before the close deletes the transcript
            order = CaseMessageDB.id
            relayed = list(await session.scalars(select(CaseMessageDB).order_by(order)))
        closing = {"csrf_token": csrf, "resolution": "talked it through"}
        assert (await staff.post("/cases/1/close", data=closing)).status_code == 303
        await pause()
    async with sessions() as session:
        assert list(await session.scalars(select(WebOutboxDB))) == []  # acknowledged: deleted
    return shown, transcript, relayed


def _check(shown: list[str], transcript: str, relayed: list[CaseMessageDB]) -> None:
    words = "\n".join(shown)
    for text in REPLIES:
        assert words.count(text) == 1, words
    assert words.index(REPLIES[0]) < words.index(REPLIES[1]) < words.index(REPLIES[2])
    assert "rate" in shown[-1].lower() or "closed" in shown[-1].lower(), shown[-1]
    counsellor = [m for m in relayed if m.sender == "counsellor"]
    assert [m.text for m in counsellor] == list(REPLIES)
    assert all(m.delivered_at is not None for m in counsellor)
    assert transcript.count("✓✓ delivered") == len(REPLIES)


async def test_every_reply_arrives_once_on_sqlite(
    tmp_path: Path, content: ContentStore, parser: EmbeddedParser
) -> None:
    url = f"sqlite:///{tmp_path / 'healthbot.db'}"
    await upgrade(url)
    database = create_engine(url)
    try:
        _check(*await _conversation(session_factory(database), content, parser))
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_every_reply_arrives_once_on_postgresql(
    postgres_url: str, content: ContentStore, parser: EmbeddedParser
) -> None:
    await upgrade(postgres_url)
    database = create_engine(postgres_url)
    try:
        _check(*await _conversation(session_factory(database), content, parser))
    finally:
        await database.dispose()


async def test_a_reply_not_yet_shown_is_sent_not_delivered(
    app: object, chat: Chat, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Until the page shows it, the counsellor sees a reply as sent, not delivered."""
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="counsellor")
    await english(chat)
    await chat.send(payload="ask:talk_to_counsellor")
    async with client_of(app) as staff:  # type: ignore[arg-type]
        login = {"username": "amina", "password": PASSWORD}
        login["csrf_token"] = await _console(staff, "/login")
        await staff.post("/login", data=login)
        csrf = await _console(staff, "/inbox")
        await staff.post("/cases/1/claim", data={"csrf_token": csrf})
        await staff.post("/cases/1/reply", data={"csrf_token": csrf, "text": REPLIES[0]})
        before = (await staff.get("/cases/1/messages")).text
        ids = [r["id"] for r in (await chat.poll())["replies"]]
        shown = (await staff.get("/cases/1/messages")).text  # fetched, not yet acknowledged
        await chat.poll(ids)
        after = (await staff.get("/cases/1/messages")).text
    assert "✓ sent" in before and "delivered" not in before
    assert "✓ sent" in shown and "delivered" not in shown
    assert "✓✓ delivered" in after and "✓ sent" not in after


async def test_a_reply_telegram_accepted_is_recorded_delivered(
    telegram: tuple[Bot, RecordingRequest],
) -> None:
    recorded: list[int] = []

    async def receipts(message_id: int) -> None:
        recorded.append(message_id)

    await deliver(telegram[0], Reply("hi", to=telegram_address(5), receipt=7), receipts=receipts)
    await deliver(telegram[0], Reply("alert", to=telegram_address(5)), receipts=receipts)
    await deliver(None, Reply("lost", to=telegram_address(5), receipt=8), receipts=receipts)
    assert len(telegram[1].sent()) == 2 and recorded == [7]
