"""Who is staff on Telegram, without a database query on every young person's message.

The Telegram ids of registered counsellors are re-read at most every `interval` seconds; a
counsellor added or removed is recognised within that time. A message from an id in the set is
still checked against the database (the set only rules people out).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CounsellorDB

log = logging.getLogger(__name__)
STAFF_REFRESH_S = 2.0


class StaffIds:
    """A cached set of counsellors' Telegram ids."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval: float = STAFF_REFRESH_S
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._ids: frozenset[int] | None = None
        self._read_at = 0.0

    async def may_be_staff(self, telegram_id: int) -> bool:
        """False only when `telegram_id` is surely not a counsellor's (as of a few seconds ago)."""
        now = time.monotonic()
        if self._ids is None or now - self._read_at >= self._interval:
            try:
                async with self._sessions() as session:
                    rows = await session.scalars(
                        select(CounsellorDB.telegram_id).where(
                            CounsellorDB.telegram_id.is_not(None)
                        )
                    )
                    self._ids = frozenset(int(i) for i in rows if i is not None)
                self._read_at = now
            except Exception as exc:  # the database is down: keep what we knew
                log.warning("staff ids not refreshed (%s)", type(exc).__name__)
                if self._ids is None:
                    return True  # unknown: let the caller ask (and fail over to a young person)
        return telegram_id in self._ids
