"""The bot's case timer closes a case nobody took within a day and tells the young person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot.app import _alert_loop, build_application
from bot.cases.repository import EXPIRED_RESOLUTION, WAIT_LIMIT, open_case
from bot.cases.seal import seal
from bot.config import Settings
from bot.db.models import CaseDB, utcnow
from bot.db.repository import get_or_create_user
from bot.dialogue.engine import DialogueEngine
from tests.conftest import SECRET
from tests.fakes.request import RecordingRequest


@pytest.fixture
async def app(
    settings: Settings, engine: DialogueEngine
) -> AsyncIterator[tuple[Application, RecordingRequest]]:  # type: ignore[type-arg]
    request = RecordingRequest()
    application = build_application(settings, dialogue=engine, request=request)
    await application.initialize()
    yield application, request
    await application.shutdown()


async def test_the_case_timer_tells_a_young_person_on_telegram_their_case_expired(
    app: tuple[Application, RecordingRequest],  # type: ignore[type-arg]
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    application, request = app
    async with sessions() as session, session.begin():
        user = await get_or_create_user(session=session, user_id="e" * 64, channel="telegram")
        await open_case(
            session=session,
            user_id=user.id,
            channel="telegram",
            language="en",
            source="request",
            priority="normal",
            route=seal(SECRET, "telegram:555000111"),
        )
        await session.execute(
            update(CaseDB).values(opened_at=utcnow() - WAIT_LIMIT - timedelta(minutes=1))
        )
    timer = asyncio.create_task(_alert_loop(application, 0.01))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if request.sent():
            break
    timer.cancel()
    [goodbye] = request.sent()
    assert int(goodbye["chat_id"]) == 555000111
    assert "no counsellor was free" in goodbye["text"] and "1199" in goodbye["text"]
    async with sessions() as session:
        case = await session.scalar(select(CaseDB))
    assert case is not None and case.resolution == EXPIRED_RESOLUTION and case.route is None
