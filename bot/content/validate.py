"""`healthbot content validate`: every check an editor's change must pass before it ships."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import TemplateError

from bot.content.render import FORMATS, UI_VARIABLES, Renderer
from bot.content.schema import LANGUAGES
from bot.content.store import ContentError, ContentStore, load_content
from bot.dialogue.split import TELEGRAM_LIMIT, utf16_length
from nlu.intents import ALL_INTENTS, CONVERSATION, TOPIC_INTENTS
from nlu.training_data import TrainingDataError, load_training_data

ANSWER_LIMIT = 600
MORE_LIMIT = 1500
BUTTON_LABEL_LIMIT = 40
SAFETY_LIMIT = 1000
# the web chat page's own words (bot/web/chat.py)
CHAT_UI_KEYS = (
    "chat_title",
    "chat_intro",
    "chat_placeholder",
    "chat_send",
    "chat_exit",
    "chat_call",
    "chat_offline",
    "chat_expired",
    "chat_slow_down",
    "chat_too_long",
    "chat_location_failed",
    "chat_unavailable",
    "chat_noscript",
)
REQUIRED_UI = (
    "welcome",
    "anonymous",
    "choose_language",
    "language_set",
    "menu_prompt",
    "topic_prompt",
    "did_you_mean",
    "not_understood",
    "unsupported",
    "unknown_command",
    "stale_button",
    "help",
    "privacy",
    "feedback_yes",
    "feedback_no",
    "error",
    "label_sources",
    "label_reviewed",
    "label_ask_helpful",
    "button_helpful",
    "button_not_helpful",
    "button_more",
    "button_menu",
    "mydata",
    "delete_confirm",
    "delete_done",
    "delete_cancelled",
    "button_delete_yes",
    "button_delete_no",
    *CHAT_UI_KEYS,
)
TYPED_NUMBER_HINT = "a phone number is typed; use {{ helplines.KEY.number }}"
_SEP = r"[\s.\-/()]{0,2}"  # what people put between digit groups: spaces, dots, dashes, brackets
# Kenyan numbers however they are grouped: 07xx / 01xx / 0800 and the like, +254 / 00254 / 254
# (with or without the 0 after it), the same 9 digits with no prefix, and the short codes.
_PHONE = (
    r"(?<![\d{])(?:"
    r"1190|1192|1195|1199|116|999|112|911"
    rf"|0{_SEP}\d(?:{_SEP}\d){{7,8}}"
    rf"|(?:\+|00)?{_SEP}254{_SEP}(?:\(?0\)?{_SEP})?\d(?:{_SEP}\d){{8}}"
    rf"|[17]\d(?:{_SEP}\d){{7}}"
    r")(?!\d)"
)
_TYPED_NUMBER = re.compile(_PHONE)


@dataclass
class Report:
    """Errors stop a release; warnings (an overdue review) are shown but do not fail."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors


def validate(content_root: Path, nlu_data: Path, today: date | None = None) -> Report:
    """Load and check the content and its consistency with the NLU training data."""
    try:
        store = load_content(content_root)
    except ContentError as exc:
        return Report(errors=list(exc.problems))
    report = check_store(store, today or date.today())
    try:
        trained = set(load_training_data(nlu_data).intents)
    except TrainingDataError as exc:
        report.errors.append(f"nlu data: {exc}")
        return report
    for intent in ALL_INTENTS:
        if intent not in trained:
            report.errors.append(f"intent {intent}: no training examples in {nlu_data}")
    for intent in sorted(trained - set(ALL_INTENTS)):
        report.errors.append(f"intent {intent}: trained but not in the intent taxonomy")
    return report


def check_store(
    store: ContentStore, today: date, *, items: Collection[str] | None = None
) -> Report:
    """Every check of one loaded store (the NLU consistency aside).

    With `items`, only those items are rendered, and the service map and safety rules (which no
    item changes) are not read again: fast enough to check one edited item in the web console,
    whose caller keeps the messages about that item.
    """
    report = Report()
    _check_references(store, report)
    _check_rendering(store, report, items)
    if items is None:  # the files no single item changes
        _check_referral_notes(store, report)
        _check_safety(store, report, today)
    _check_reviews(store, report, today)
    return report


def _check_references(store: ContentStore, report: Report) -> None:
    for intent in CONVERSATION:
        if intent not in store.conversation:
            report.errors.append(f"conversation/{intent}.yml: missing")
    for intent, item in store.topics.items():
        if intent not in TOPIC_INTENTS:
            report.errors.append(f"topic {intent}: not a topic intent of the taxonomy")
        for follow_up in item.follow_ups:
            if follow_up not in store.topics and follow_up not in store.menu_actions:
                report.errors.append(f"topic {intent}: follow-up {follow_up!r} has no content")
        for language in LANGUAGES:
            if len(item.question.get(language)) > BUTTON_LABEL_LIMIT:
                report.errors.append(
                    f"topic {intent}: question.{language} over {BUTTON_LABEL_LIMIT} characters"
                )
    for key in REQUIRED_UI:
        if key not in store.ui:
            report.errors.append(f"ui.yml: {key} missing")
    for topic in store.menu.topics:
        if not topic.intents and topic.action not in store.conversation:
            report.errors.append(f"menu.yml: topic {topic.id} has no intents and no known action")
        for intent in topic.intents:
            if intent not in store.topics:
                report.errors.append(
                    f"menu.yml: topic {topic.id} lists {intent!r}, which has no content"
                )
    texts = [(f"ui.yml {k}", v) for k, v in store.ui.items()]
    texts += [
        (f"topic {k}.{part}", getattr(item, part))
        for k, item in store.topics.items()
        for part in ("answer", "more")
    ]
    texts += [(f"conversation {k}", item.answer) for k, item in store.conversation.items()]
    for where, localised in texts:
        for language in LANGUAGES:
            if _TYPED_NUMBER.search(localised.get(language)):
                report.errors.append(f"{where}.{language}: {TYPED_NUMBER_HINT}")


def _check_referral_notes(store: ContentStore, report: Report) -> None:
    """A service the facility list does not record needs a note saying so (`referral_note_*`)."""
    from bot.referral.directory import DirectoryError, load_service_map

    try:
        service_map = load_service_map(store.root / "services" / "service_map.yml")
    except (DirectoryError, OSError) as exc:
        report.errors.append(f"services/service_map.yml: {exc}")
        return
    for service in service_map.proxies:
        if f"referral_note_{service}" not in store.ui:
            report.errors.append(f"ui.yml: referral_note_{service} missing (see service_map.yml)")


def _check_rendering(
    store: ContentStore, report: Report, items: Collection[str] | None = None
) -> None:
    renderer = Renderer(store)
    helplines = {h.number for h in store.helplines.values()}

    def render(where: str, source: str, *args: object) -> str | None:
        """The text rendered; a phone number it makes (`{{ 722178 * 1000 + 177 }}`,
        `{{ "0722" ~ "178177" }}`) that is not a helpline's is a typed number too."""
        rendered = _render(report, where, renderer.text, source, *args)
        made = _TYPED_NUMBER.finditer(rendered or "")
        if any(re.sub(r"\D", "", m.group()) not in helplines for m in made):
            error = f"{where}: {TYPED_NUMBER_HINT}"
            if error not in report.errors:  # typed as it is: already reported
                report.errors.append(error)
        return rendered

    topics = {k: v for k, v in store.topics.items() if items is None or k in items}
    conversation = {k: v for k, v in store.conversation.items() if items is None or k in items}
    for language in LANGUAGES:
        for key, text in store.ui.items() if items is None else ():
            where = f"ui.yml {key}.{language}"
            render(where, text.get(language), language, UI_VARIABLES)
        for intent, conv in conversation.items():
            where = f"conversation {intent}.{language}"
            render(where, conv.answer.get(language), language)
        for intent, item in topics.items():
            for part, limit in (("answer", ANSWER_LIMIT), ("more", MORE_LIMIT)):
                where = f"topic {intent}.{part}.{language}"
                source = getattr(item, part).get(language)
                rendered = render(where, source, language)
                if rendered is not None and len(rendered) > limit:
                    report.errors.append(f"{where}: {len(rendered)} characters (limit {limit})")
                for fmt in FORMATS:
                    page = _render(
                        report, f"{where} ({fmt})", getattr(renderer, part), fmt, intent, language
                    )
                    if page is not None and utf16_length(page) > TELEGRAM_LIMIT:
                        report.errors.append(f"{where} ({fmt}): longer than one Telegram message")


def _render(report: Report, where: str, render: Callable[..., str], *args: object) -> str | None:
    try:
        return render(*args)
    except TemplateError as exc:
        report.errors.append(f"{where}: does not render ({exc})")
    except Exception as exc:  # editors' text: {{ 1/0 }} must be reported, never crash
        report.errors.append(f"{where}: does not render ({exc.__class__.__name__}: {exc})")
    return None


def _check_safety(store: ContentStore, report: Report, today: date) -> None:
    """The crisis rules compile; every safety text renders in both languages, with no typed
    number, within its length; every category has sources and a current review."""
    from bot.safety import Availability, load_safety
    from nlu.parser import CLEAR, CRISIS_CATEGORIES, Crisis
    from nlu.safety import SafetyRulesError

    folder = store.root / "safety"
    try:
        service = load_safety(folder, Renderer(store))
        service.detector.rules.compile_all()
    except (SafetyRulesError, TemplateError, re.error) as exc:
        report.errors.append(f"safety: {exc}")
        return
    for name in ("responses.yml", "conversation.yml"):
        if _TYPED_NUMBER.search((folder / name).read_text(encoding="utf-8")):
            report.errors.append(f"safety/{name}: {TYPED_NUMBER_HINT}")
    texts = service.texts
    blocks = {
        **texts.answers,
        **{(k[0], "check_in", *k[1:]): v for k, v in texts.check_ins.items()},
    }
    for key, text in blocks.items():
        if len(text) > SAFETY_LIMIT:
            report.errors.append(
                f"safety {'/'.join(key)}: {len(text)} characters (limit {SAFETY_LIMIT})"
            )
    nobody = Availability(stored=True, on_duty=False, hours="08:00-20:00")
    for category in CRISIS_CATEGORIES:
        for friend in (False, True):
            crisis = Crisis(True, category, None, CLEAR, friend)
            for language in LANGUAGES:
                for fmt in FORMATS:
                    whole = service.answer(fmt, language, crisis, nobody).text
                    if utf16_length(whole) > TELEGRAM_LIMIT:
                        report.errors.append(
                            f"safety {category}: the whole answer is longer than one message"
                        )
        sources = texts.sources.get(category, ())
        if not sources:
            report.errors.append(f"safety {category}: no sources")
        for source in sources:
            if not source.url.startswith(("https://", "http://")) or not source.title.strip():
                report.errors.append(f"safety {category}: a source needs a title and a URL")
    if texts.next_review <= texts.reviewed_on:
        report.errors.append("safety/responses.yml: next_review must be after reviewed_on")
    elif texts.next_review < today:
        report.warnings.append(f"safety/responses.yml: review overdue since {texts.next_review}")


def _check_reviews(store: ContentStore, report: Report, today: date) -> None:
    for intent, item in store.topics.items():
        if item.next_review <= item.reviewed_on:
            report.errors.append(f"topic {intent}: next_review must be after reviewed_on")
        elif item.next_review < today:
            report.warnings.append(f"topic {intent}: review overdue since {item.next_review}")
