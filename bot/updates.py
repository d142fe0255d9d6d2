"""Each Telegram update answered once, whichever process receives it, however often it comes.

Telegram redelivers a webhook update until it gets a 2xx. The first process to receive an update
takes it (a row in `telegram_updates`), answers it, and marks it handled. A redelivery then meets
one of three cases:

- handled: a duplicate, answered 200 and not processed again;
- taken but not handled, recently: another process is answering it; 503, so Telegram asks again;
- taken but not handled for longer than the lease: the process that took it died; take it over.

Polling keeps each fetched update until it is answered (so a crash in between loses nothing),
sealed (bot.cases.seal) under HEALTHBOT_SECRET, never in plain text; the statement that marks an
update answered also clears it, so an answered row holds only its id and times. `/delete` needs
no step of its own: an update still waiting is answered (and cleared) in turn.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.seal import seal, unseal
from bot.db.models import TelegramUpdateDB, utcnow
from bot.db.session import autocommit

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


class Claim(enum.Enum):
    """What to do with a delivered update."""

    TAKEN = "taken"  # ours: answer it
    DUPLICATE = "duplicate"  # answered already
    IN_PROGRESS = "in_progress"  # another process is answering it now


class UpdateLedger:
    """Takes and marks updates in the database (shared by every bot process)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease: timedelta = LEASE,
        secret: str = "",
    ) -> None:
        """`secret` (HEALTHBOT_SECRET) seals the updates polling keeps; the webhook keeps none."""
        self._sessions = sessions
        self._lease = lease
        self._secret = secret

    async def take(self, update_id: int, now: datetime | None = None) -> Claim:
        """Take `update_id` for this process, or say why not. Database errors propagate."""
        now = now or utcnow()
        async with autocommit(self._sessions) as connection:  # each statement is atomic alone
            inserted = await connection.execute(
                _TAKE[connection.dialect.name], {"update_id": update_id, "received_at": now}
            )
            if inserted.rowcount == 1:
                return Claim.TAKEN
            overdue = {"id": update_id, "taken_before": now - self._lease, "now": now}
            if (await connection.execute(_TAKE_OVER, overdue)).rowcount == 1:
                return Claim.TAKEN
            row = (await connection.execute(_HANDLED_AT, {"id": update_id})).first()
        return Claim.DUPLICATE if row is None or row.handled_at is not None else Claim.IN_PROGRESS

    async def keep(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Polling: store fetched updates (new ones only) before Telegram is told they arrived."""
        if not updates:
            return
        if not self._secret:
            raise ValueError("a ledger that keeps updates needs the secret that seals them")
        now = utcnow()
        async with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            await session.execute(
                insert(TelegramUpdateDB)
                .values(
                    [
                        {"update_id": i, "received_at": now, "payload": self._seal(data)}
                        for i, data in updates
                    ]
                )
                .on_conflict_do_nothing()
            )

    async def unanswered(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        """Polling: kept updates not answered yet, oldest first (after a crash, on restart)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TelegramUpdateDB.update_id, TelegramUpdateDB.payload)
                .where(TelegramUpdateDB.handled_at.is_(None), TelegramUpdateDB.payload.is_not(None))
                .order_by(TelegramUpdateDB.update_id)
                .limit(limit)
            )
            kept = [(row.update_id, self._unseal(row.payload)) for row in rows]
        unreadable = [update_id for update_id, data in kept if data is None]
        for update_id in unreadable:  # sealed under another secret, or garbled: cannot be answered
            log.warning("kept update unreadable (another HEALTHBOT_SECRET?); dropped")
            await self.handled(update_id)
        return [(update_id, data) for update_id, data in kept if data is not None]

    async def forget_answered(self) -> None:
        """Clear what an answered update still holds (rows kept before payloads were cleared)."""
        async with autocommit(self._sessions) as connection:
            await connection.execute(_FORGET_ANSWERED)

    def _seal(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"sealed": seal(self._secret, json.dumps(data, separators=(",", ":")))}

    def _unseal(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        if isinstance(payload, dict) and "update_id" in payload:
            return payload  # kept in plain text by an earlier version, before an upgrade
        token = payload.get("sealed") if isinstance(payload, dict) else None
        opened = unseal(self._secret, token) if isinstance(token, str) and self._secret else None
        if opened is None:
            return None
        try:
            data = json.loads(opened)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def unhandled(self, update_id: int) -> bool:
        """Whether `update_id` is kept and not answered yet."""
        async with self._sessions() as session:
            row = await session.get(TelegramUpdateDB, update_id)
            return row is not None and row.handled_at is None

    async def handled(self, update_id: int, now: datetime | None = None) -> None:
        """Mark `update_id` answered and clear what polling kept of it (one statement)."""
        async with autocommit(self._sessions) as connection:
            await connection.execute(_MARK_HANDLED, {"id": update_id, "now": now or utcnow()})


# built once: each runs for every update, and building a statement costs more than running it
_TAKE = {
    "postgresql": pg_insert(TelegramUpdateDB).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(TelegramUpdateDB).on_conflict_do_nothing(),
}
_TAKE_OVER = (  # taken by a process that died before answering: take it over
    update(TelegramUpdateDB)
    .where(
        TelegramUpdateDB.update_id == bindparam("id"),
        TelegramUpdateDB.handled_at.is_(None),
        TelegramUpdateDB.received_at < bindparam("taken_before"),
    )
    .values(received_at=bindparam("now"))
)
_HANDLED_AT = select(TelegramUpdateDB.handled_at).where(
    TelegramUpdateDB.update_id == bindparam("id")
)
_MARK_HANDLED = (
    update(TelegramUpdateDB)
    .where(TelegramUpdateDB.update_id == bindparam("id"))
    .values(handled_at=bindparam("now"), payload=null())  # SQL NULL, not JSON null
)
_FORGET_ANSWERED = (
    update(TelegramUpdateDB)
    .where(TelegramUpdateDB.handled_at.is_not(None), TelegramUpdateDB.payload.is_not(None))
    .values(payload=null())
)
