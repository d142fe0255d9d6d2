"""The safety service: the crisis check, and every reply of a crisis, ready to send.

Answers, check-ins and labels are rendered at start-up; the honest line about counsellors is
rendered when it is sent, and if that fails the answer still goes, with the 24-hour lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.content.render import Format, Renderer
from bot.dialogue import payloads
from bot.dialogue.messages import Button, Call, Reply
from bot.safety.availability import Availability
from bot.safety.texts import LANGUAGES, QUEUE_REPLIES, UNDERSTAND, SafetyTexts, load_texts
from nlu.crisis_model import CrisisModel
from nlu.detector import CrisisDetector
from nlu.parser import CRISIS_CATEGORIES, Crisis
from nlu.safety import SafetyRules, normalise

log = logging.getLogger(__name__)

EXIT_WORDS = frozenset({"exit", "toka"})  # alone in a message; /exit is a command
# The service finder a crisis answer offers, by category.
SERVICE = {
    "sexual_violence": ("find_gbv_service", "gbv_care"),
    "immediate_danger": ("find_gbv_service", "gbv_care"),
    "exploitation": ("find_gbv_service", "gbv_care"),
    "overdose": ("find_emergency_care", "emergency"),
    "unsafe_abortion": ("find_emergency_care", "emergency"),
}
TWENTY_FOUR_HOURS = ("redcross", "gbv", "childline")


@dataclass(frozen=True)
class SafetyService:
    """The crisis detector plus the finished safety messages."""

    detector: CrisisDetector
    texts: SafetyTexts
    renderer: Renderer

    @property
    def exit_line(self) -> dict[str, str]:
        """The neutral line a quick exit leaves, by language."""
        return self.texts.exit_line

    def check(self, text: str) -> Crisis:
        """Rules and classifier: pure and in memory."""
        return self.detector.check(text)

    def is_exit(self, text: str) -> bool:
        """`exit` or `toka` alone (any case or punctuation): the quick-exit words."""
        return normalise(text).strip() in EXIT_WORDS

    # replies ------------------------------------------------------------------------------

    def answer(
        self, fmt: Format, language: str, crisis: Crisis, availability: Availability
    ) -> Reply:
        """The safety answer for a clear crisis, with the honest line about counsellors.

        When no counsellor will answer soon, it leads with the 24-hour lines.
        """
        category, language = _category(crisis), _language(language)
        subject = "friend" if crisis.about_friend else "self"
        parts = [] if availability.key == "on_duty" else [self.texts.lead[(language, fmt)]]
        parts.append(self.texts.answers[(category, subject, language, fmt)])
        parts.append(self._availability(fmt, language, availability))
        rows: list[tuple[Button, ...]] = []
        if category in SERVICE:
            label, service = SERVICE[category]
            rows.append((Button(self._label(label, language), payloads.encode("svc", service)),))
        rows.append((self._safe_button(language, friend=crisis.about_friend),))
        rows.append((self._menu_button(language),))
        return Reply("\n\n".join(parts), tuple(rows), calls=self.calls(category, language))

    def check_in(
        self, fmt: Format, language: str, crisis: Crisis, availability: Availability
    ) -> Reply:
        """One direct, kind question for a possible crisis; its buttons answer it."""
        category, language = _category(crisis), _language(language)
        key = "friend" if crisis.about_friend else category
        parts = [self.texts.check_ins[(key, language, fmt)]]
        if availability.stored:
            later = "on_duty" if availability.on_duty else "off_duty"
            parts.append(self._reply(fmt, language, f"check_in_later.{later}", availability))
        yes = Button(self._label("check_yes", language), payloads.encode("chk", "yes", category))
        no = Button(self._label("check_no", language), payloads.encode("chk", "no", category))
        calls = self.calls(category, language)[:1]
        return Reply("\n\n".join(p for p in parts if p), ((yes, no),), calls=calls)

    def follow_up(
        self,
        fmt: Format,
        language: str,
        name: str,
        availability: Availability,
        *,
        category: str | None = None,
        variant: int = 0,
        friend: bool = False,
    ) -> Reply:
        """A short reply in a crisis conversation: `name`, the category's step, the queue line.

        `name` is a reply of conversation.yml (`anyone_there`, `cant_call` and
        `check_in_unanswered` say whether a counsellor is on duty), or `still_here` (`variant`).
        """
        language = _language(language)
        on_off = "on_duty" if availability.key == "on_duty" else "off_duty"
        if name == "still_here":
            variants = self.texts.still_here
            parts = [
                self._render(
                    fmt, language, variants[variant % len(variants)][language], availability
                )
            ]
        elif name in QUEUE_REPLIES:
            parts = [self._reply(fmt, language, f"{name}.{on_off}", availability)]
        else:
            parts = [self._reply(fmt, language, name, availability)]
        if category in CRISIS_CATEGORIES and name in ("again", "repeat", "help", "not_safe"):
            parts.append(
                self._render(fmt, language, self.texts.steps[(category, language)], availability)
            )
        if name in ("again", "repeat", "help", "thanks", "still_here", "not_safe"):
            parts.append(self._reply(fmt, language, f"queue.{on_off}", availability))
        rows: list[tuple[Button, ...]] = []
        if name != "safe":
            rows.append((self._safe_button(language, friend=friend),))
        rows.append((self._menu_button(language),))
        calls = self.calls(category, language) if category in CRISIS_CATEGORIES else ()
        if on_off == "off_duty" and name in ("anyone_there", "cant_call", "not_safe"):
            calls = helpline_calls(self.renderer, TWENTY_FOUR_HOURS, language)
        return Reply("\n\n".join(p for p in parts if p), tuple(rows), calls=calls)

    def understand(self, text: str, *, checking: bool = False) -> str | None:
        """What a message in a crisis conversation says: a key of conversation.yml, or None.

        Answering a check-in (`checking`): "not safe" is a yes; a "no" (unless it starts "no
        one…") or "I'm safe" is a no; then "yes".
        """
        normalised = normalise(text)
        words = set(normalised.split())
        said = self.texts.understand
        if checking:
            if said["not_safe"].match(normalised, words):
                return "yes"
            if said["no"].match(normalised, words) and not said["not_a_no"].match(
                normalised, words
            ):
                return "no"
            if said["safe"].match(normalised, words):
                return "no"
            if said["yes"].match(normalised, words):
                return "yes"
        for key in UNDERSTAND:
            if said[key].match(normalised, words):
                return key
        return "anyone_there" if said["greeting"].match(normalised, words) else None

    def calls(self, category: str, language: str) -> tuple[Call, ...]:
        """The category's tap-to-call helplines."""
        keys = self.texts.calls.get(category, TWENTY_FOUR_HOURS)
        return helpline_calls(self.renderer, keys, language)

    def _menu_button(self, language: str) -> Button:
        return Button(self._label("menu", language), payloads.encode("menu"))

    def _safe_button(self, language: str, *, friend: bool) -> Button:
        """ "I'm safe now" (or "They're safe now"): it ends the crisis conversation."""
        label = self._label("friend_safe_now" if friend else "safe_now", language)
        return Button(label, payloads.encode("safe"))

    def _label(self, button: str, language: str) -> str:
        return self.texts.labels[(button, _language(language))]

    def _availability(self, fmt: Format, language: str, availability: Availability) -> str:
        source = self.texts.availability[(availability.key, language)]
        return self._render(fmt, language, source, availability)

    def _reply(self, fmt: Format, language: str, name: str, availability: Availability) -> str:
        return self._render(fmt, language, self.texts.replies[(name, language)], availability)

    def _render(self, fmt: Format, language: str, source: str, availability: Availability) -> str:
        """A line with the queue's values; if it cannot render, the 24-hour lines instead."""
        values = {"position": availability.position or 0, "hours": availability.hours}
        try:
            return self.renderer.message(fmt, self.renderer.text(source, language, values))
        except Exception:
            log.exception("a safety line did not render: the 24-hour lines instead")
            return self.texts.lead[(language, fmt)]


def helpline_calls(renderer: Renderer, keys: tuple[str, ...], language: str) -> tuple[Call, ...]:
    """Tap-to-call buttons for helplines.yml's `keys`, named in `language`."""
    helplines = renderer.helplines(language)
    return tuple(Call(helplines[k]["name"], helplines[k]["number"]) for k in keys)


def load_safety(
    folder: Path, renderer: Renderer, model: CrisisModel | None = None
) -> SafetyService:
    """Load `content/safety/` and pre-render every message; SafetyRulesError says what is wrong."""
    detector = CrisisDetector(SafetyRules.load(folder / "rules.yml"), model)
    return SafetyService(detector, load_texts(folder, renderer), renderer)


def _category(crisis: Crisis) -> str:
    return crisis.category if crisis.category in CRISIS_CATEGORIES else "suicide"


def _language(language: str) -> str:
    return language if language in LANGUAGES else "en"
