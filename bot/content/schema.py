"""The shape of every file in `content/`, checked with pydantic when content loads."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

LANGUAGES = ("en", "sw")
AREAS = (
    "hiv",
    "contraception",
    "sti",
    "body",
    "relationships",
    "violence",
    "mental_health",
    "substances",
)
SERVICE_IDS = (
    "hiv_testing",
    "art",
    "prep",
    "pep",
    "condoms",
    "sti_care",
    "family_planning",
    "emergency_contraception",
    "gbv_care",
    "mental_health",
    "youth_friendly",
    "antenatal",
    "emergency",
    "substance_use",
    "counselling",
)
_INTENT = re.compile(r"^[a-z][a-z_]{1,62}$")


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo in a key must not silently drop text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localised(Strict):
    """The same text in English and Kiswahili."""

    en: str = Field(min_length=1)
    sw: str = Field(min_length=1)

    def get(self, language: str) -> str:
        """The text in `language`, English when the language is unknown."""
        return self.sw if language == "sw" else self.en


class Source(Strict):
    """A published source an answer rests on."""

    title: str = Field(min_length=3)
    publisher: str = Field(min_length=2)
    year: int = Field(ge=1990, le=2100)
    url: str = Field(pattern=r"^https?://\S+$")


class TopicItem(Strict):
    """A curated answer to one intent, with its sources and review dates."""

    intent: str = Field(pattern=_INTENT.pattern)
    area: str
    question: Localised
    title: Localised
    answer: Localised
    more: Localised
    follow_ups: list[str] = Field(default_factory=list, max_length=3)
    services: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    reviewed_on: date
    next_review: date

    @field_validator("area")
    @classmethod
    def _known_area(cls, value: str) -> str:
        if value not in AREAS:
            raise ValueError(f"area must be one of {', '.join(AREAS)}")
        return value

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SERVICE_IDS))
        if unknown:
            raise ValueError(f"unknown service ids {unknown}; known: {', '.join(SERVICE_IDS)}")
        return value


class ConversationItem(Strict):
    """A short conversational reply (greetings, thanks, scope...)."""

    intent: str = Field(pattern=_INTENT.pattern)
    answer: Localised


class Helpline(Strict):
    """A verified helpline; numbers are typed here and nowhere else."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    number: str = Field(pattern=r"^\d{3,4}$")
    name: Localised
    hours: Localised
    for_: str = Field(alias="for")
    source: str = Field(min_length=5)


class MenuTopic(Strict):
    """A topic of the main menu: a list of intents, or an action such as find_service."""

    id: str = Field(pattern=_INTENT.pattern)
    label: Localised
    intents: list[str] = Field(default_factory=list)
    action: str | None = None


class Menu(Strict):
    """The main menu, in display order."""

    topics: list[MenuTopic] = Field(min_length=1)
