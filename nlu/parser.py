"""The parse result contract and the `Parser` protocol every backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

CRISIS_CATEGORIES = (
    "suicide",
    "self_harm",
    "sexual_violence",
    "immediate_danger",
    "overdose",
    "unsafe_abortion",
    "exploitation",
)
# Triage: `clear` gets the safety answer and an urgent case; `possible` gets a check-in first.
CLEAR = "clear"
POSSIBLE = "possible"
CRISIS_LEVELS = (CLEAR, POSSIBLE)


class ParserUnavailable(Exception):
    """The parser cannot answer now (a model is missing or a server is down)."""


@dataclass(frozen=True, slots=True)
class IntentScore:
    """An intent name with the parser's confidence in it."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity found in the text, with its canonical value and character span."""

    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Crisis:
    """Whether the message signals a crisis, which kind, how sure, what fired, and about whom.

    A signal without a level (a parser's crisis intent) counts as clear until triage lowers it.
    """

    detected: bool = False
    category: str | None = None
    matched: str | None = None  # the rule or model that fired, and the frame that lowered it
    level: str | None = None  # clear | possible, when detected
    about_friend: bool = False  # the writer speaks of someone else ("my friend wants to die")

    @property
    def clear(self) -> bool:
        """Detected and not lowered to `possible`."""
        return self.detected and self.level != POSSIBLE


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Rasa's `/model/parse` shape plus `language` and `crisis`."""

    text: str
    intent: IntentScore
    intent_ranking: tuple[IntentScore, ...]
    entities: tuple[Entity, ...] = ()
    language: str = "en"
    crisis: Crisis = field(default_factory=Crisis)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready contract shape."""
        crisis: dict[str, Any] = {
            "detected": self.crisis.detected,
            "category": self.crisis.category,
            "level": (self.crisis.level or CLEAR) if self.crisis.detected else None,
        }
        if self.crisis.detected:
            crisis["subject"] = "friend" if self.crisis.about_friend else "self"
        if self.crisis.matched is not None:
            crisis["matched"] = self.crisis.matched
        return {
            "text": self.text,
            "intent": {"name": self.intent.name, "confidence": round(self.intent.confidence, 4)},
            "intent_ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.intent_ranking
            ],
            "entities": [
                {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                for e in self.entities
            ],
            "language": self.language,
            "crisis": crisis,
        }


class Parser(Protocol):
    """Anything that turns text into a `ParseResult`: embedded model, Rasa server, test fake."""

    async def parse(self, text: str) -> ParseResult:
        """Parse one message; raise `ParserUnavailable` when the backend cannot answer."""
        ...
