"""The safety answer: crisis check, pre-rendered replies per category, language and channel.

Everything here is prepared at start-up and held in memory, so answering a crisis needs neither
the database, the NLU server nor template rendering at message time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.content.render import FORMATS, Format, Renderer
from bot.dialogue import payloads
from bot.dialogue.messages import Button, Reply
from nlu.crisis_model import CrisisModel
from nlu.detector import CrisisDetector
from nlu.parser import CRISIS_CATEGORIES, Crisis
from nlu.safety import SafetyRules, SafetyRulesError, normalise

LANGUAGES = ("en", "sw")
SUBJECTS = ("self", "friend")
EXIT_WORDS = frozenset({"exit", "toka"})  # alone in a message; /exit is a command


@dataclass(frozen=True)
class SafetyService:
    """The crisis detector plus the finished safety messages."""

    detector: CrisisDetector
    texts: dict[tuple[str, str, str, Format], str]  # (category, subject, language, format)
    labels: dict[tuple[str, str], str]  # (button, language) -> label
    case_opened: dict[tuple[str, Format], str]  # (language, format) -> text
    exit_line: dict[str, str]  # language -> text

    def check(self, text: str) -> Crisis:
        """Rules and classifier: pure and in memory."""
        return self.detector.check(text)

    def is_exit(self, text: str) -> bool:
        """`exit` or `toka` alone (any case or punctuation): the quick-exit words."""
        return normalise(text).strip() in EXIT_WORDS

    def replies(
        self, fmt: Format, language: str, crisis: Crisis, *, about_friend: bool, case_opened: bool
    ) -> list[Reply]:
        """The safety answer for a detected crisis, in the user's language."""
        category = crisis.category if crisis.category in CRISIS_CATEGORIES else "suicide"
        language = language if language in LANGUAGES else "en"
        subject = "friend" if about_friend else "self"
        text = self.texts[(category, subject, language, fmt)]
        if case_opened and not about_friend:
            text += "\n\n" + self.case_opened[(language, fmt)]
        rows: list[tuple[Button, ...]] = [
            (
                Button(
                    self.labels[("counsellor", language)],
                    payloads.encode("ask", "talk_to_counsellor"),
                ),
            )
        ]
        if category in ("sexual_violence", "immediate_danger"):
            rows.append(
                (
                    Button(
                        self.labels[("find_gbv_service", language)],
                        payloads.encode("svc", "gbv_care"),
                    ),
                )
            )
        rows.append((Button(self.labels[("menu", language)], payloads.encode("menu")),))
        return [Reply(text, tuple(rows))]


def load_safety(
    folder: Path, renderer: Renderer, model: CrisisModel | None = None
) -> SafetyService:
    """Load `content/safety/` and pre-render every message; SafetyRulesError says what is wrong."""
    detector = CrisisDetector(SafetyRules.load(folder / "rules.yml"), model)
    try:
        raw: Any = yaml.safe_load((folder / "responses.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SafetyRulesError(f"{folder / 'responses.yml'}: cannot read") from exc
    try:
        texts = {
            (category, subject, language, fmt): renderer.message(
                fmt, renderer.text(str(raw[category][subject][language]), language)
            )
            for category in CRISIS_CATEGORIES
            for subject in SUBJECTS
            for language in LANGUAGES
            for fmt in FORMATS
        }
        labels = {
            (button, language): str(raw["buttons"][button][language])
            for button in ("counsellor", "find_gbv_service", "menu")
            for language in LANGUAGES
        }
        case_opened = {
            (language, fmt): renderer.message(
                fmt, renderer.text(str(raw["case_opened"][language]), language)
            )
            for language in LANGUAGES
            for fmt in FORMATS
        }
        exit_line = {language: str(raw["exit_line"][language]).strip() for language in LANGUAGES}
    except (KeyError, TypeError) as exc:
        raise SafetyRulesError(f"{folder / 'responses.yml'}: missing {exc}") from exc
    return SafetyService(detector, texts, labels, case_opened, exit_line)
