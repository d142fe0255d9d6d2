"""python-telegram-bot adapters: updates to engine messages, replies to Bot API calls."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from handlers.context import BotData, HealthbotContext
from handlers.errors import on_error
from handlers.messages import on_button, on_command, on_media, on_text

__all__ = ["BotData", "HealthbotContext", "register"]


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Wire every handler in one place (private chats only: the bot is one-to-one)."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES
    app.add_handler(MessageHandler(private & filters.COMMAND, on_command))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.COMMAND, on_media))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)
