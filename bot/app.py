"""Build the python-telegram-bot `Application`: a factory, nothing at import time."""

from __future__ import annotations

import logging

from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

import handlers
from bot.config import Settings
from bot.dialogue.engine import DialogueEngine
from bot.runtime import Runtime, prepare
from handlers.context import BotData

log = logging.getLogger(__name__)

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
) -> Application:  # type: ignore[type-arg]
    """Wire the bot. Without `dialogue`, the runtime is prepared in post_init (and closed after)."""
    runtime: list[Runtime] = []

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        data: BotData = app.bot_data
        if data.dialogue is None:
            prepared = await prepare(settings)
            runtime.append(prepared)
            data.dialogue = prepared.dialogue
        await app.bot.set_my_commands(BOT_COMMANDS)

    async def post_shutdown(_app: Application) -> None:  # type: ignore[type-arg]
        for item in runtime:
            await item.close()

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
    handlers.register(app)
    return app
