"""The safety words: `content/safety/responses.yml` and `conversation.yml`, checked and prepared.

Everything that does not depend on the moment is rendered at start-up (every answer, check-in and
label, in both languages and every format), so a crisis is answered from memory. The lines that
say where someone is in the queue are rendered when they are sent, from sources checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.content.render import FORMATS, UI_VARIABLES, Format, Renderer
from nlu.parser import CRISIS_CATEGORIES
from nlu.safety import RuleSet, SafetyRulesError

LANGUAGES = ("en", "sw")
SUBJECTS = ("self", "friend")
BUTTONS = (
    "counsellor",
    "find_gbv_service",
    "find_emergency_care",
    "safe_now",
    "friend_safe_now",
    "check_yes",
    "check_no",
    "menu",
)
AVAILABILITY = ("on_duty", "off_duty", "unreachable")
# What the young person may say in a crisis conversation, tried in this order; `yes`, `no` and
# `greeting` only at the start of a message ("no" must not match "i have no airtime").
UNDERSTAND = (
    "not_safe",
    "safe",
    "cant_call",
    "anyone_there",
    "unreachable",
    "again",
    "help",
    "thanks",
)
AT_START = ("yes", "no", "not_a_no", "greeting")
# Replies with one text per language, and those with a text per availability.
SIMPLE_REPLIES = (
    "safe",
    "check_in_no",
    "not_safe",
    "unreachable",
    "again",
    "thanks",
    "repeat",
    "help",
)
QUEUE_REPLIES = ("check_in_unanswered", "anyone_there", "cant_call", "queue", "check_in_later")
Key = tuple[str, str]  # (key, language)


@dataclass(frozen=True)
class Phrases:
    """What one thing a young person may say looks like: phrases matched anywhere in a message,
    and phrases matched only at its start (written `^phrase`)."""

    anywhere: RuleSet
    at_start: RuleSet

    @classmethod
    def of(cls, phrases: list[str], *, at_start: bool = False) -> Phrases:
        """Compile a list of conversation.yml; with `at_start`, every phrase is start-only."""
        start = [p.removeprefix("^") for p in phrases if at_start or p.startswith("^")]
        found = cls(
            RuleSet([p for p in phrases if not (at_start or p.startswith("^"))]), RuleSet(start)
        )
        found.anywhere.compile_all()
        found.at_start.compile_all()
        return found

    def match(self, normalised: str, words: set[str]) -> bool:
        """Whether a normalised message says this."""
        if self.anywhere.search(normalised, words) is not None:
            return True
        # after the leading space normalisation adds
        return any(r.pattern.match(normalised, 1) for r in self.at_start.candidates(words))


@dataclass(frozen=True)
class Source:
    """A document the safety steps rest on."""

    title: str
    publisher: str
    year: int
    url: str


@dataclass(frozen=True)
class SafetyTexts:
    """Finished texts, by (…, language, format), and the sources of the lines rendered later."""

    answers: dict[tuple[str, str, str, Format], str]  # (category, subject, language, format)
    check_ins: dict[tuple[str, str, Format], str]  # (category or "friend", language, format)
    labels: dict[Key, str]  # (button, language)
    calls: dict[str, tuple[str, ...]]  # category -> helpline keys
    lead: dict[tuple[str, Format], str]  # the 24-hour lines, when nobody can answer soon
    availability: dict[Key, str]  # (on_duty | off_duty | unreachable, language) -> source
    replies: dict[Key, str]  # (reply, language) -> source; `queue` replies as `name.on_duty`
    still_here: tuple[dict[str, str], ...]  # variants: language -> source
    steps: dict[Key, str]  # (category, language) -> source
    understand: dict[str, Phrases]
    exit_line: dict[str, str]
    sources: dict[str, tuple[Source, ...]]
    reviewed_on: date
    next_review: date


def load_texts(folder: Path, renderer: Renderer) -> SafetyTexts:
    """Read and check both files; SafetyRulesError says what is missing or does not render."""
    responses = _read(folder / "responses.yml")
    conversation = _read(folder / "conversation.yml")
    try:
        return _texts(responses, conversation, renderer)
    except (KeyError, TypeError, ValueError) as exc:
        raise SafetyRulesError(f"{folder}: missing or malformed {exc}") from exc


def _read(path: Path) -> dict[str, Any]:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SafetyRulesError(f"{path}: cannot read ({exc.__class__.__name__})") from exc
    if not isinstance(document, dict):
        raise SafetyRulesError(f"{path}: expected a mapping")
    return document


def _texts(raw: dict[str, Any], talk: dict[str, Any], renderer: Renderer) -> SafetyTexts:
    def finished(source: object, language: str, fmt: Format) -> str:
        return renderer.message(fmt, renderer.text(str(source), language))

    answers = {
        (category, subject, language, fmt): finished(
            raw["answers"][category][subject][language], language, fmt
        )
        for category in CRISIS_CATEGORIES
        for subject in SUBJECTS
        for language in LANGUAGES
        for fmt in FORMATS
    }
    check_ins = {
        (category, language, fmt): finished(raw["check_in"][category][language], language, fmt)
        for category in (*CRISIS_CATEGORIES, "friend")
        for language in LANGUAGES
        for fmt in FORMATS
    }
    labels = {
        (button, language): str(raw["buttons"][button][language])
        for button in BUTTONS
        for language in LANGUAGES
    }
    calls = {
        category: tuple(str(k) for k in raw["calls"][category]) for category in CRISIS_CATEGORIES
    }
    unknown = sorted({k for keys in calls.values() for k in keys} - set(renderer.helplines("en")))
    if unknown:
        raise ValueError(f"calls name {unknown}, not in content/helplines.yml")
    lead = {
        (language, fmt): finished(raw["availability"]["lead"][language], language, fmt)
        for language in LANGUAGES
        for fmt in FORMATS
    }
    availability = {
        (key, language): _checked(renderer, raw["availability"][key][language], language)
        for key in AVAILABILITY
        for language in LANGUAGES
    }
    replies = _replies(talk["replies"], raw, renderer)
    still_here = tuple(
        {language: _checked(renderer, variant[language], language) for language in LANGUAGES}
        for variant in talk["replies"]["still_here"]
    )
    if len(still_here) < 2:
        raise ValueError("replies.still_here needs at least two variants")
    steps = {
        (category, language): _checked(renderer, talk["steps"][category][language], language)
        for category in CRISIS_CATEGORIES
        for language in LANGUAGES
    }
    understand = {
        key: Phrases.of([str(p) for p in talk["understand"][key]], at_start=key in AT_START)
        for key in (*UNDERSTAND, *AT_START)
    }
    return SafetyTexts(
        answers=answers,
        check_ins=check_ins,
        labels=labels,
        calls=calls,
        lead=lead,
        availability=availability,
        replies=replies,
        still_here=still_here,
        steps=steps,
        understand=understand,
        exit_line={language: str(raw["exit_line"][language]).strip() for language in LANGUAGES},
        sources={
            category: tuple(Source(**entry) for entry in raw["sources"][category])
            for category in CRISIS_CATEGORIES
        },
        reviewed_on=_date(raw["reviewed_on"]),
        next_review=_date(raw["next_review"]),
    )


def _replies(replies: dict[str, Any], raw: dict[str, Any], renderer: Renderer) -> dict[Key, str]:
    """Simple replies by (name, language); availability replies by (name.on_duty, language)."""
    found: dict[Key, str] = {}
    for name in SIMPLE_REPLIES:
        for language in LANGUAGES:
            found[(name, language)] = _checked(renderer, replies[name][language], language)
    for name in QUEUE_REPLIES:
        source = raw["check_in_later"] if name == "check_in_later" else replies[name]
        for key in ("on_duty", "off_duty"):
            for language in LANGUAGES:
                text = _checked(renderer, source[key][language], language)
                found[(f"{name}.{key}", language)] = text
    return found


def _checked(renderer: Renderer, source: object, language: str) -> str:
    """A source rendered once with sample values (so a typo fails at start-up), kept as source."""
    text = str(source).strip()
    if not text:
        raise ValueError("an empty text")
    renderer.text(text, language, UI_VARIABLES)
    return text


def _date(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
