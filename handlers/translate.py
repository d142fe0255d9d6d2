"""Telegram `Update` → engine `Inbound`, and engine `Reply` → Bot API keyword arguments."""

from __future__ import annotations

from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
)
from telegram.constants import ParseMode

from bot.dialogue.addresses import telegram_address
from bot.dialogue.messages import Inbound, InboundKind, Reply


def command_name(text: str) -> str:
    """`/Start@HealthBot payload` → `start`."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    return word.lstrip("/").split("@", 1)[0].lower()


def inbound_from_message(message: Message, user_id: str) -> Inbound:
    """Translate a message (new or edited) into what the engine understands."""
    text = message.text or ""
    where = telegram_address(message.chat.id)
    if text.startswith("/"):
        argument = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        return Inbound(
            user_id,
            "telegram",
            InboundKind.COMMAND,
            command=command_name(text),
            text=argument,  # only counsellors' commands take one (/take 12, /close ...)
            address=where,
        )
    if text:
        return Inbound(user_id, "telegram", InboundKind.TEXT, text=text, address=where)
    if message.location is not None and message.venue is None:
        location = message.location
        return Inbound(
            user_id,
            "telegram",
            InboundKind.LOCATION,
            latitude=location.latitude,
            longitude=location.longitude,
            address=where,
        )
    return Inbound(user_id, "telegram", InboundKind.MEDIA, address=where)


def send_kwargs(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for `Bot.send_message`: HTML parse mode, no link previews, buttons."""
    kwargs: dict[str, Any] = {
        "text": reply.text,
        "parse_mode": ParseMode.HTML,
        "link_preview_options": LinkPreviewOptions(is_disabled=True),
    }
    if reply.request_location:  # a reply keyboard; Telegram allows one kind of markup a message
        kwargs["reply_markup"] = ReplyKeyboardMarkup(
            [[KeyboardButton(reply.request_location, request_location=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    elif reply.buttons:
        kwargs["reply_markup"] = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.payload) for b in row]
                for row in reply.buttons
            ]
        )
    return kwargs
