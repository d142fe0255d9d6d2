"""Build the python-telegram-bot `Application`: a factory, nothing at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

import handlers
from bot.cases import receipts
from bot.config import Settings
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.retention import purge
from bot.runtime import Runtime, prepare
from bot.telegram_http import AiohttpRequest
from bot.telegram_limits import PatientRateLimiter
from bot.web import outbox as web_outbox
from bot.web.outbox import Outbox
from handlers.context import BotData
from handlers.messages import deliver

log = logging.getLogger(__name__)
ALERT_INTERVAL_S = 15.0
CONCURRENT_UPDATES = 64
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")  # what the handlers answer
PURGE_INTERVAL_S = 6 * 3600.0

BOT_COMMANDS = (
    BotCommand("menu", "Topics · Mada"),
    BotCommand("language", "English / Kiswahili"),
    BotCommand("help", "Help · Msaada"),
    BotCommand("privacy", "What is stored · Kinachohifadhiwa"),
    BotCommand("mydata", "What I hold about you · Ninachohifadhi kukuhusu"),
    BotCommand("delete", "Erase your data · Futa data yako"),
)


def build_application(
    settings: Settings,
    *,
    dialogue: DialogueEngine | None = None,
    request: BaseRequest | None = None,
    alert_interval_s: float | None = ALERT_INTERVAL_S,
    outbox: Outbox | None = None,
    external_updates: bool = False,
    purge_interval_s: float | None = PURGE_INTERVAL_S,
) -> Application:  # type: ignore[type-arg]
    """Wire the bot. Without `dialogue`, the runtime is prepared in post_init (and closed after).

    With `external_updates`, updates come from `bot.server` (webhook) or `bot.polling` (durable
    polling), not from python-telegram-bot's updater, and up to CONCURRENT_UPDATES of them may
    be answered at once (one person's turns still run one after another: their row is locked).

    Every `alert_interval_s` a timer alerts on-duty counsellors about cases nobody has taken
    (None: no timer). Its state is in the database, so it survives restarts. Replies for web
    chats go to `outbox` (by default the web outbox in the bot's database). Every
    `purge_interval_s` (and once at start) the retention purge runs (None: never).
    """
    runtime: list[Runtime] = []
    timers: list[asyncio.Task[None]] = []
    own_databases: list[AsyncEngine] = []

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        data: BotData = app.bot_data
        if data.dialogue is None:
            prepared = await prepare(settings)
            runtime.append(prepared)
            data.dialogue = prepared.dialogue
        if runtime:
            sessions = runtime[0].sessions
        else:  # an engine was handed in: open the database for the outbox and the purge
            database = create_engine(settings.database_url)
            own_databases.append(database)
            sessions = session_factory(database)
        if data.outbox is None:  # replies for web chats wait in the web outbox
            data.outbox = web_outbox.writer(sessions, settings.healthbot_secret)
        if data.receipts is None:
            data.receipts = receipts.recorder(sessions)
        await app.bot.set_my_commands(BOT_COMMANDS)
        if alert_interval_s is not None:
            timers.append(asyncio.create_task(_alert_loop(app, alert_interval_s)))
        if purge_interval_s is not None:
            timers.append(
                asyncio.create_task(
                    _purge_loop(sessions, settings.retention_days, purge_interval_s)
                )
            )

    async def post_shutdown(_app: Application) -> None:  # type: ignore[type-arg]
        for timer in timers:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        for item in runtime:
            await item.close()
        for database in own_databases:
            await database.dispose()

    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram_api_base_url)
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .rate_limiter(PatientRateLimiter(overall_max_rate=settings.telegram_max_rate))
    )
    if external_updates:
        builder = builder.updater(None).concurrent_updates(CONCURRENT_UPDATES)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:  # aiohttp, not httpx: a third of a webhook worker's time under load (bench/load)
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connections=1)
        )
    app = builder.build()
    data: BotData = app.bot_data
    data.secret = settings.healthbot_secret
    data.dialogue = dialogue
    data.outbox = outbox
    handlers.register(app)
    return app


@contextlib.asynccontextmanager
async def running(app: Application) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """The application started (with its post_init) for the block, and stopped and shut down
    (with post_stop and post_shutdown) after it, whatever happens, for updates fed from outside
    (`bot.server`, `bot.polling`)."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            yield
        finally:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def _alert_loop(app: Application, interval_s: float) -> None:  # type: ignore[type-arg]
    """Alert counsellors about waiting cases, for as long as the bot runs."""
    data: BotData = app.bot_data
    while True:
        await asyncio.sleep(interval_s)
        try:
            for reply in await data.engine().due_alerts():
                await deliver(app.bot, reply, outbox=data.outbox, receipts=data.receipts)
        except Exception:
            log.exception("the case alert timer failed once; it keeps running")


async def _purge_loop(
    sessions: async_sessionmaker[AsyncSession], retention_days: int, interval_s: float
) -> None:
    """Run the retention purge now and every `interval_s` (idempotent; workers may overlap)."""
    while True:
        try:
            await purge(sessions, retention_days=retention_days)
        except Exception:
            log.exception("the retention purge failed once; it runs again later")
        await asyncio.sleep(interval_s)
