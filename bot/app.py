"""Build the python-telegram-bot `Application`: a factory, nothing at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

import handlers
from bot.config import Settings
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.runtime import Runtime, prepare
from bot.web import outbox as web_outbox
from bot.web.outbox import Outbox
from handlers.context import BotData
from handlers.messages import deliver

log = logging.getLogger(__name__)
ALERT_INTERVAL_S = 15.0

BOT_COMMANDS = (
    BotCommand("menu", "Topics · Mada"),
    BotCommand("language", "English / Kiswahili"),
    BotCommand("help", "Help · Msaada"),
    BotCommand("privacy", "What is stored · Kinachohifadhiwa"),
)


def build_application(
    settings: Settings,
    *,
    dialogue: DialogueEngine | None = None,
    request: BaseRequest | None = None,
    alert_interval_s: float | None = ALERT_INTERVAL_S,
    outbox: Outbox | None = None,
) -> Application:  # type: ignore[type-arg]
    """Wire the bot. Without `dialogue`, the runtime is prepared in post_init (and closed after).

    Every `alert_interval_s` a timer alerts on-duty counsellors about cases nobody has taken
    (None: no timer). Its state is in the database, so it survives restarts. Replies for web
    chats go to `outbox` (by default the web outbox in the bot's database).
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
        if data.outbox is None:  # replies for web chats wait in the web outbox
            if runtime:
                database = runtime[0].db
            else:  # an engine was handed in: open the database for the outbox
                database = create_engine(settings.database_url)
                own_databases.append(database)
            data.outbox = web_outbox.writer(session_factory(database), settings.healthbot_secret)
        await app.bot.set_my_commands(BOT_COMMANDS)
        if alert_interval_s is not None:
            timers.append(asyncio.create_task(_alert_loop(app, alert_interval_s)))

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
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    data: BotData = app.bot_data
    data.secret = settings.healthbot_secret
    data.dialogue = dialogue
    data.outbox = outbox
    handlers.register(app)
    return app


async def _alert_loop(app: Application, interval_s: float) -> None:  # type: ignore[type-arg]
    """Alert counsellors about waiting cases, for as long as the bot runs."""
    data: BotData = app.bot_data
    while True:
        await asyncio.sleep(interval_s)
        try:
            for reply in await data.engine().due_alerts():
                await deliver(app.bot, reply, outbox=data.outbox)
        except Exception:
            log.exception("the case alert timer failed once; it keeps running")
