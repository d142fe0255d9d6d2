"""The one error handler: logs the failure, never the message text or who sent it."""

from __future__ import annotations

import logging

from telegram import Update

from bot import metrics
from handlers.context import HealthbotContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: HealthbotContext) -> None:
    """Log an exception raised in a handler, with the update's type only."""
    kind = type(update).__name__
    if isinstance(update, Update):
        kind = "callback_query" if update.callback_query else "message"
    if context.error is not None:
        metrics.error(context.error)
    log.error("handler failed for a %s update", kind, exc_info=context.error)
