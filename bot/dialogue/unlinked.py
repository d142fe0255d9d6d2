"""Rows linked to nobody (unanswered questions, search counts), written apart from any turn.

A row written in the turn's transaction would share its PostgreSQL `xmin` (and its moment) with
the turn's `messages` row, joining it back to the young person. So these rows wait in memory and
are written together, shuffled, in a transaction of their own: once `EVERY` has passed since the
last write (checked by the timers and at the start of each turn, before that turn adds anything)
or when `BATCH` are waiting, and when the process stops. Each keeps only the day. A crash loses
at most what was waiting: counts for editors, never anything a young person needs.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ReferralSearchDB, UnansweredDB

log = logging.getLogger(__name__)

EVERY = timedelta(minutes=5)
BATCH = 50
Row = UnansweredDB | ReferralSearchDB


class Unlinked:
    """The waiting rows and when they were last written."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        every: timedelta = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._every = every.total_seconds()
        self._clock = clock
        self._waiting: list[Row] = []
        self._written = clock()

    def add(self, row: Row) -> None:
        """Keep a row to write later (never in the caller's transaction)."""
        self._waiting.append(row)

    @property
    def waiting(self) -> int:
        """How many rows wait to be written."""
        return len(self._waiting)

    async def write_due(self) -> None:
        """Write the waiting rows if `EVERY` has passed or `BATCH` are waiting."""
        if len(self._waiting) >= BATCH or self._clock() - self._written >= self._every:
            await self.write()

    async def write(self) -> None:
        """Write every waiting row now, in one transaction and a random order; failures only
        logged (by type: the rows hold a scrubbed question)."""
        rows, self._waiting = self._waiting, []
        self._written = self._clock()
        if not rows:
            return
        shuffled = sorted(rows, key=lambda _row: secrets.randbits(32))
        try:
            async with self._sessions() as session, session.begin():
                session.add_all(shuffled)
        except Exception as exc:
            log.warning("unlinked counts not written: %s", type(exc).__name__)
