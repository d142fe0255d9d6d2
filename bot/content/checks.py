"""Check one edited content item before it is saved, submitted or published.

The web console calls `check_revision` with the published store and an editor's revision body. It
returns (field, message) pairs, the field named as on the edit form (`answer.sw`, `follow_ups`,
`examples`, or "" for the item as a whole), each message written for the editor. The checks are
those of `healthbot content validate`, run on the published content with this one item replaced,
plus the training examples' own rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot import paths
from bot.content import revisions
from bot.content.live import overlay
from bot.content.render import REFUSED
from bot.content.store import ContentStore
from bot.content.validate import TYPED_NUMBER_HINT, check_store
from nlu.examples import raw_examples
from nlu.training_data import TrainingDataError, parse_example

Problem = tuple[str, str]
LOCALISED = ("question", "title", "answer", "more")
MIN_EXAMPLES = 5
EXAMPLE_LIMIT = 200
_LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}
_FROM_VALIDATE = re.compile(
    r"^(?P<kind>topic|conversation) (?P<item>[a-z_]+)(?:\.(?P<path>[a-z_]+(?:\.[a-z]{2})?))?"
    r"(?: \((?:html|plain)\))?: (?P<message>.*)$",
    re.DOTALL,
)
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']*)'")
_UNDEFINED = re.compile(r"^'([^']*)' is undefined")


def check_revision(
    base: ContentStore,
    item: str,
    kind: str,
    body: Mapping[str, Any],
    *,
    examples: Mapping[str, Sequence[str]] | None = None,
    today: date | None = None,
) -> list[Problem]:
    """Every problem with `body` as the new version of `item` in `base` (the published store).

    `examples` are every intent's current training examples (the files' by default), for the
    rule that an example belongs to one intent only.
    """
    problems: list[Problem] = []
    if body.get("intent") != item:
        problems.append(("", f"This revision is for {body.get('intent')!r}, not {item!r}."))
    if (kind == "topic") != (item in base.topics) and item in {*base.topics, *base.conversation}:
        problems.append(("", f"{item} is not a {kind} item."))
    try:
        revisions.item_of(kind, body)
        valid = True
    except ValidationError as exc:
        problems.extend(_schema_problem(error) for error in exc.errors())
        valid = False
    problems.extend(_blank_texts(body))
    others = raw_examples(paths.NLU_DATA_DIR) if examples is None else examples
    problems.extend(check_examples(item, revisions.examples_of(body), others))
    if valid and body.get("intent") == item:
        candidate = overlay(base, {item: (kind, body)})
        report = check_store(candidate, today or date.today(), items={item})
        problems.extend(_validate_problems(report.errors, item, base))
    return list(dict.fromkeys(problems))  # one of each, in order


def check_examples(
    item: str, lines: Sequence[str], others: Mapping[str, Sequence[str]]
) -> list[Problem]:
    """Enough examples, short ones, well-formed annotations, and none that another intent has."""
    problems: list[Problem] = []
    if len(lines) < MIN_EXAMPLES:
        problems.append(
            (
                "examples",
                f"Add at least {MIN_EXAMPLES} example questions, one per line "
                f"(there {'is' if len(lines) == 1 else 'are'} {len(lines)}).",
            )
        )
    owners = {_plain(line, intent): intent for intent, ls in others.items() for line in ls}
    for line in lines:
        if len(line) > EXAMPLE_LIMIT:
            problems.append(
                (
                    "examples",
                    f"“{line[:40]}…” has {len(line)} characters: keep each example under "
                    f"{EXAMPLE_LIMIT}.",
                )
            )
        try:
            parse_example(line, item)
        except TrainingDataError:
            problems.append(
                (
                    "examples",
                    f"“{line[:60]}” has a broken entity mark-up: write [text](entity) or remove "
                    "the brackets.",
                )
            )
            continue
        owner = owners.get(_plain(line, item))
        if owner is not None and owner != item:
            problems.append(
                (
                    "examples",
                    f"“{line[:60]}” is already an example of {owner}: the bot could not tell the "
                    "two apart. Remove it here, or there first.",
                )
            )
    return problems


def _plain(line: str, intent: str) -> str:
    """An example as the model sees it, for comparison: annotations removed, lowercase."""
    try:
        text = parse_example(line, intent).text
    except TrainingDataError:
        text = line
    return " ".join(text.lower().split())


def _blank_texts(body: Mapping[str, Any]) -> list[Problem]:
    """Texts of only spaces (the schema counts them as written; young people would see nothing)."""
    return [
        (f"{name}.{language}", f"The {language_name} text is missing: please write it.")
        for name in LOCALISED
        if isinstance(body.get(name), Mapping)
        for language, language_name in _LANGUAGE_NAMES.items()
        if isinstance(body[name].get(language), str)
        and body[name][language].strip() == ""
        and body[name][language] != ""
    ]


# pydantic's errors ------------------------------------------------------------------------------


def _schema_problem(error: ErrorDetails) -> Problem:
    loc = error["loc"]
    kind = error["type"]
    name = str(loc[0]) if loc else ""
    if name in LOCALISED and len(loc) > 1 and loc[1] in _LANGUAGE_NAMES:
        language = _LANGUAGE_NAMES[str(loc[1])]
        if kind in ("missing", "string_too_short"):
            return f"{name}.{loc[1]}", f"The {language} text is missing: please write it."
        return f"{name}.{loc[1]}", error["msg"]
    if name in LOCALISED:
        return f"{name}.en", f"{name} needs an English and a Kiswahili text."
    if name == "sources":
        return "sources", _source_message(error)
    if name == "follow_ups":
        if kind == "too_long":
            return "follow_ups", "Choose at most 3 follow-up topics."
        return "follow_ups", "Write follow-ups as intent names separated by commas."
    if name == "services":
        return "services", error["msg"].removeprefix("Value error, ")
    if name in ("next_review", "reviewed_on"):
        return "next_review", "Choose a date (year-month-day, like 2027-11-23)."
    where = ".".join(str(p) for p in loc)
    return "", f"{where}: {error['msg']}" if where else error["msg"]


def _source_message(error: ErrorDetails) -> str:
    loc = error["loc"]
    kind = error["type"]
    if len(loc) == 1:
        if kind == "too_short":
            return "Add at least one source the answer rests on."
        return "Sources are a list: each one starts with “- title:”."
    number = int(loc[1]) + 1 if isinstance(loc[1], int) else 1
    name = str(loc[2]) if len(loc) > 2 else ""
    advice = {
        "url": "the link must start with http:// or https://",
        "year": "the year must be a number between 1990 and 2100",
        "title": "the title needs at least 3 characters",
        "publisher": "the publisher needs at least 2 characters",
    }
    if kind == "missing":
        return f"Source {number}: {name} is missing (each source has title, publisher, year, url)."
    if kind == "extra_forbidden":
        return f"Source {number}: “{name}” is not a source field; use title, publisher, year, url."
    if kind in ("model_type", "dict_type"):
        return f"Source {number}: write it as title, publisher, year and url lines."
    return f"Source {number}: {advice.get(name, error['msg'])}."


# the content checks' messages -------------------------------------------------------------------


def _validate_problems(errors: list[str], item: str, store: ContentStore) -> list[Problem]:
    """The errors of `check_store` that concern `item`, as (field, message) for the editor."""
    problems: list[Problem] = []
    for error in errors:
        found = _FROM_VALIDATE.match(error)
        if found is None or found["item"] != item:
            continue
        path, message = found["path"], found["message"]
        if found["kind"] == "conversation" and path in _LANGUAGE_NAMES:
            path = f"answer.{path}"
        if path:
            problems.append((path, _text_message(path, message, store)))
        else:
            problems.append(_item_message(message))
    return problems


def _text_message(field: str, message: str, store: ContentStore) -> str:
    if message == TYPED_NUMBER_HINT:
        return (
            "A phone number is typed here. Write {{ helplines.KEY.number }} instead, so every "
            f"number comes from the checked list (KEY is one of {_keys(store)})."
        )
    if message.startswith("does not render ("):
        return _template_message(message.removeprefix("does not render (")[:-1], store)
    length = re.fullmatch(r"(\d+) characters \(limit (\d+)\)", message)
    if length:
        more = " The details can go in “Tell me more”." if field.startswith("answer") else ""
        return (
            f"This comes to {length[1]} characters; the limit is {length[2]}. "
            f"Please shorten it.{more}"
        )
    if "longer than one Telegram message" in message:
        return (
            "With its title and sources this is longer than one Telegram message: "
            "please shorten it."
        )
    return message


def _template_message(detail: str, store: ContentStore) -> str:
    if REFUSED in detail:  # the sandbox's own words, written for editors
        return f"The text cannot be used: {detail}."
    how = (
        "Helplines are written {{ helplines.KEY.number }} (or .name, .hours), "
        f"with KEY one of {_keys(store)}."
    )
    missing = _NO_ATTRIBUTE.search(detail)
    if missing:
        return f"The text asks for “{missing[1]}”, which does not exist. {how}"
    undefined = _UNDEFINED.match(detail)
    if undefined:
        return f"The text asks for “{undefined[1]}”, which it cannot use. {how}"
    return f"The text has a template mistake ({detail}). {how}"


def _item_message(message: str) -> Problem:
    follow_up = re.fullmatch(r"follow-up '([^']*)' has no content", message)
    if follow_up:
        return (
            "follow_ups",
            f"“{follow_up[1]}” is not a topic the bot has: use another topic's intent name, "
            "such as hiv_testing.",
        )
    question = re.fullmatch(r"question\.(en|sw) over (\d+) characters", message)
    if question:
        return (
            f"question.{question[1]}",
            f"Keep the question to {question[2]} characters or fewer: it is shown on a button.",
        )
    if message.startswith("next_review must be after"):
        return "next_review", "The next review must come after the date of the last review."
    return "", message


def _keys(store: ContentStore) -> str:
    return ", ".join(sorted(store.helplines))
