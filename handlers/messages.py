"""Handlers for text, commands, media and button presses: translate, ask the engine, send."""

from __future__ import annotations

from telegram import Update

from bot.dialogue.messages import Inbound, InboundKind, Reply
from handlers.context import HealthbotContext
from handlers.translate import inbound_from_message, send_kwargs


async def _answer(update: Update, context: HealthbotContext, inbound: Inbound) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    replies: list[Reply] = await context.bot_data.engine().handle(inbound)
    for reply in replies:
        await context.bot.send_message(chat_id=chat.id, **send_kwargs(reply))


async def on_text(update: Update, context: HealthbotContext) -> None:
    """Answer a typed (or edited) message."""
    await _from_message(update, context)


async def on_command(update: Update, context: HealthbotContext) -> None:
    """Answer /start, /menu, /language, /help, /privacy and unknown commands."""
    await _from_message(update, context)


async def on_media(update: Update, context: HealthbotContext) -> None:
    """Answer stickers, photos, voice notes, documents, contacts and locations kindly."""
    await _from_message(update, context)


async def _from_message(update: Update, context: HealthbotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    inbound = inbound_from_message(message, context.bot_data.user_id(user.id))
    await _answer(update, context, inbound)


async def on_button(update: Update, context: HealthbotContext) -> None:
    """Acknowledge a button press, then answer it (stale or forged data included)."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    await query.answer()
    inbound = Inbound(
        context.bot_data.user_id(user.id), "telegram", InboundKind.BUTTON, payload=query.data or ""
    )
    await _answer(update, context, inbound)
