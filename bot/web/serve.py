"""Assemble the web application from the settings: the same runtime as the bot, plus Bot API."""

from __future__ import annotations

from starlette.applications import Starlette
from telegram import Bot

from bot.config import Settings
from bot.db.session import session_factory
from bot.runtime import prepare
from bot.web.app import build_web_app


async def build_console(settings: Settings) -> Starlette:
    """The console and web chat; counsellors' replies reach Telegram when a bot token is set."""
    runtime = await prepare(settings, ping_on_checkout=True)  # a page never fails on a restart
    # prepared in an event loop of its own (asyncio.run) before uvicorn starts another: pooled
    # connections belong to the first loop, and the web process's first database call failed
    # on them. Emptied here, the pool connects afresh in the loop that serves the requests.
    await runtime.db.dispose()
    bot = (
        Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        if settings.telegram_bot_token
        else None
    )
    return build_web_app(
        secret=settings.healthbot_secret,
        sessions=session_factory(runtime.db),
        desk=runtime.desk,
        bot=bot,
        https_only=settings.web_secure_cookies,
        live=runtime.live,
        dialogue=runtime.dialogue,
        quick_exit_url=settings.quick_exit_url,
    )
