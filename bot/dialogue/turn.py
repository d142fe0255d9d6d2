"""One inbound message being answered: the young person's row and the open transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import UserDB
from bot.db.repository import get_or_create_user
from bot.dialogue.messages import Inbound


@dataclass
class Turn:
    """One inbound message being answered, with the user row and the open session."""

    inbound: Inbound
    user: UserDB
    session: AsyncSession

    @property
    def language(self) -> str:
        """The chosen language; until there is one, the language of their last message."""
        return self.user.language or self.user.detected_language or "en"


@asynccontextmanager
async def open_turn(
    sessions: async_sessionmaker[AsyncSession], inbound: Inbound
) -> AsyncIterator[Turn]:
    """One transaction with the user's row (created on first contact)."""
    async with sessions() as session, session.begin():
        user = await get_or_create_user(
            session=session, user_id=inbound.user_id, channel=inbound.channel
        )
        yield Turn(inbound, user, session)
