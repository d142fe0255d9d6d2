"""The bot runs the retention purge itself: once on start, then on a timer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_application
from bot.config import Settings
from bot.db.models import MessageDB, UserDB, utcnow
from bot.dialogue.engine import DialogueEngine
from tests.fakes.request import RecordingRequest


async def _messages(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(MessageDB))).scalar())


async def test_the_bot_purges_old_records_on_start(
    settings: Settings, engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old = utcnow() - timedelta(days=settings.retention_days + 1)
    async with sessions() as session, session.begin():
        session.add(UserDB(id="u1", channel="telegram", state="idle", state_data={}))
        await session.flush()
        session.add(MessageDB(user_id="u1", direction="in", kind="text", created_at=old))
        session.add(MessageDB(user_id="u1", direction="in", kind="text"))  # recent: kept
    application = build_application(
        settings,
        dialogue=engine,
        request=RecordingRequest(),
        alert_interval_s=None,
        purge_interval_s=3600,
    )
    await application.initialize()
    assert application.post_init is not None and application.post_shutdown is not None
    await application.post_init(application)
    try:
        for _ in range(100):
            if await _messages(sessions) == 1:
                break
            await asyncio.sleep(0.05)
        assert await _messages(sessions) == 1
    finally:
        await application.post_shutdown(application)
        await application.shutdown()
