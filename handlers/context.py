"""The typed context handlers receive: bot data holds the engine and the pseudonymisation key."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import CallbackContext, ExtBot

from bot.cases.receipts import Receipts
from bot.dialogue.engine import DialogueEngine
from bot.privacy import pseudonymise
from bot.web.outbox import Outbox


@dataclass
class BotData:
    """Shared, read-only after start-up: no per-user state lives here."""

    dialogue: DialogueEngine | None = None
    secret: str = field(default="", repr=False)
    outbox: Outbox | None = None  # stores replies for web chats (set in post_init)
    receipts: Receipts | None = None  # records counsellor messages Telegram accepted (post_init)

    def engine(self) -> DialogueEngine:
        """The dialogue engine, set in post_init."""
        if self.dialogue is None:
            raise RuntimeError("the dialogue engine is not ready")
        return self.dialogue

    def user_id(self, telegram_user_id: int) -> str:
        """The pseudonymous id for a Telegram user."""
        return pseudonymise(self.secret, "telegram", telegram_user_id)


HealthbotContext = CallbackContext[
    ExtBot[None], dict[object, object], dict[object, object], BotData
]
