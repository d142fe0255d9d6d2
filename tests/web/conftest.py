"""The console and web chat as the tests serve them: a recorded Bot API, the engine, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from telegram import Bot

from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.web.app import build_web_app
from tests.conftest import DESK_SETTINGS, MIDDAY_IN_NAIROBI, SECRET
from tests.fakes.request import RecordingRequest
from tests.web.chat_client import Chat, client_of

EXIT_URL = "https://neutral.example/weather?today"  # where the tests' quick exit goes


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[Bot, RecordingRequest]]:
    """A Bot whose calls are recorded, never sent."""
    request = RecordingRequest()
    bot = Bot("123456:TEST-TOKEN", request=request)
    async with bot:
        yield bot, request


@pytest.fixture
def app(
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
    telegram: tuple[Bot, RecordingRequest],
    engine: DialogueEngine,
) -> Starlette:
    """The console and web chat on the test database, delivering to the recorded Bot."""
    desk = Desk(DESK_SETTINGS, Renderer(content), clock=lambda: MIDDAY_IN_NAIROBI)
    return build_web_app(
        secret=SECRET,
        sessions=sessions,
        desk=desk,
        bot=telegram[0],
        dialogue=engine,
        quick_exit_url=EXIT_URL,
    )


@pytest.fixture
async def chat(app: Starlette) -> AsyncIterator[Chat]:
    """A young person with the chat page open."""
    async with client_of(app) as client:
        young = Chat(client)
        await young.open()
        yield young
