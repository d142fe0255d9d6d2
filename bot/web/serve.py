"""Assemble the console from the settings: database, content for the desk, the Bot API sender."""

from __future__ import annotations

from starlette.applications import Starlette
from telegram import Bot

from bot import paths
from bot.config import Settings
from bot.content.render import Renderer
from bot.content.store import load_content
from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.runtime import build_desk
from bot.web.app import build_web_app


async def build_console(settings: Settings) -> Starlette:
    """The console app; counsellors' replies reach Telegram when a bot token is set."""
    await upgrade(settings.database_url)
    renderer = Renderer(load_content(paths.CONTENT_DIR))
    bot = (
        Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        if settings.telegram_bot_token
        else None
    )
    return build_web_app(
        secret=settings.healthbot_secret,
        sessions=session_factory(create_engine(settings.database_url)),
        desk=build_desk(settings, renderer),
        bot=bot,
        https_only=settings.web_secure_cookies,
    )
