"""Handlers for text, commands, media and button presses: translate, ask the engine, send."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.error import TelegramError

from bot import metrics
from bot.cases.receipts import Receipts
from bot.dialogue.addresses import telegram_address, telegram_chat_id, web_token
from bot.dialogue.messages import Inbound, InboundKind, Reply
from bot.web.outbox import Outbox
from handlers.context import HealthbotContext
from handlers.translate import inbound_from_message, send_kwargs

log = logging.getLogger(__name__)


async def _answer(update: Update, context: HealthbotContext, inbound: Inbound) -> None:
    chat, message = update.effective_chat, update.effective_message
    if chat is None:
        return
    metrics.UPDATES.labels(kind=inbound.kind.value).inc()
    engine = context.bot_data.engine()
    replies: list[Reply] = await engine.handle(inbound)
    seen = [message.message_id] if message is not None and not update.callback_query else []
    for reply in replies:
        if reply.to:
            data = context.bot_data
            await deliver(context.bot, reply, outbox=data.outbox, receipts=data.receipts)
            continue
        if reply.delete_message_ids:
            await _delete(context, chat.id, [*reply.delete_message_ids, *seen])
            seen = []
        sent = await context.bot.send_message(chat_id=chat.id, **send_kwargs(reply))
        if not reply.delete_message_ids:
            seen.append(sent.message_id)
    if seen:
        await engine.remember_channel_messages(inbound.user_id, seen)


async def deliver(
    bot: Bot | None,
    reply: Reply,
    *,
    outbox: Outbox | None = None,
    receipts: Receipts | None = None,
) -> None:
    """Send a reply meant for another chat (a relay or an alert); a failure is only logged.

    A web chat's reply goes to `outbox` (the web outbox, where its page collects it); a counsellor
    message that Telegram accepted is recorded as delivered with `receipts`.
    """
    if web_token(reply.to) is not None:
        await _to_web(reply, outbox)
        return
    target = telegram_chat_id(reply.to)
    if target is None or bot is None:
        log.warning("a reply for another channel was dropped")
        return
    try:
        await bot.send_message(chat_id=target, **send_kwargs(reply))
    except TelegramError:
        log.warning("a relay or alert could not be delivered", exc_info=True)
        return
    if reply.receipt is not None and receipts is not None:
        try:
            await receipts(reply.receipt)
        except Exception:
            log.warning("a delivery could not be recorded", exc_info=True)


async def _to_web(reply: Reply, outbox: Outbox | None) -> None:
    """Store a reply for a web chat; without an outbox, or on failure, it is only logged."""
    if outbox is None:
        log.warning("a reply for a web chat was dropped: no web outbox here")
        return
    try:
        await outbox(reply)
    except Exception:
        log.warning("a reply for a web chat could not be stored", exc_info=True)


async def _delete(context: HealthbotContext, chat_id: int, message_ids: list[int]) -> None:
    """Delete messages in the chat where the Bot API allows (younger than 48 hours)."""
    for start in range(0, len(message_ids), 100):
        try:
            await context.bot.delete_messages(chat_id, message_ids[start : start + 100])
        except TelegramError:
            log.info("some messages could not be deleted (older than 48 hours or gone)")


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
    chat = update.effective_chat
    inbound = Inbound(
        context.bot_data.user_id(user.id),
        "telegram",
        InboundKind.BUTTON,
        payload=query.data or "",
        address=telegram_address(chat.id) if chat is not None else "",
    )
    await _answer(update, context, inbound)
