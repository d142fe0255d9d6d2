"""The channel-agnostic dialogue engine: inbound message in, outbound replies out."""

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Button, Inbound, InboundKind, Reply

__all__ = ["Button", "DialogueEngine", "Inbound", "InboundKind", "Reply"]
