"""Polling that loses nothing: each update is stored before Telegram is told it arrived.

python-telegram-bot's own poller confirms an update (the next getUpdates' offset) as soon as it
is fetched, before it is answered: a process killed in between loses it. Here a batch is first
kept in `telegram_updates` (sealed), then confirmed, then answered one by one and marked answered
(which clears what was kept). After
a crash, the kept but unanswered updates are answered first; an update Telegram sends again
because it was never confirmed is recognised and not answered twice. (A process killed after
sending a reply but before marking it answered sends that reply again on restart: the window is
one database write.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from telegram import Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application

from bot.app import ALLOWED_UPDATES, running
from bot.updates import UpdateLedger

log = logging.getLogger(__name__)
LONG_POLL_S = 10
RETRY_S = (1.0, 2.0, 5.0, 10.0)


class DurablePoller:
    """Fetch, keep, confirm, answer: one batch at a time, in order."""

    def __init__(self, application: Application, ledger: UpdateLedger) -> None:  # type: ignore[type-arg]
        self._application = application
        self._ledger = ledger
        self._offset = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Answer kept updates, then poll until `stop` is set."""
        await self._ledger.forget_answered()
        await self._answer(await self._ledger.unanswered())
        failures = 0
        while not stop.is_set():
            fetch = asyncio.ensure_future(self._fetch())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetch
                break
            try:
                batch = fetch.result()
            except (NetworkError, OSError) as exc:
                delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                log.warning("getUpdates failed (%s); again in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            await self._answer(batch)

    async def _fetch(self) -> list[tuple[int, dict[str, object]]]:
        """Fetch a batch, keep it in the database, and only then move the offset past it."""
        updates = await self._application.bot.get_updates(
            offset=self._offset,
            timeout=LONG_POLL_S,
            allowed_updates=list(ALLOWED_UPDATES),
        )
        batch = [(u.update_id, u.to_dict()) for u in updates]
        await self._ledger.keep(batch)  # a failure here leaves them unconfirmed: fetched again
        if batch:
            self._offset = batch[-1][0] + 1  # confirmed by the next getUpdates
        return batch

    async def _answer(self, batch: list[tuple[int, dict[str, object]]]) -> None:
        for update_id, data in batch:
            if not await self._ledger.unhandled(update_id):
                continue  # fetched again after a restart, answered already
            update = Update.de_json(data, self._application.bot)
            await self._application.process_update(update)
            await self._ledger.handled(update_id)


async def run_polling(application: Application, ledger: UpdateLedger) -> None:  # type: ignore[type-arg]
    """Start the application, poll durably until SIGINT or SIGTERM, then stop it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(application):
        with contextlib.suppress(TelegramError):  # polling and a webhook exclude each other
            await application.bot.delete_webhook(drop_pending_updates=False)
        await DurablePoller(application, ledger).run(stop)
