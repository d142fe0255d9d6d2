"""The checks an edited item passes before it is saved, and the diffs reviewers read."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot import paths
from bot.content.checks import check_revision
from bot.content.diff import ADDED, GAP, REMOVED, SAME, changed_fields, diff_bodies
from bot.content.live import file_items
from bot.content.store import ContentStore
from nlu.examples import raw_examples
from nlu.training_data import parse_example

EXAMPLES = raw_examples(paths.NLU_DATA_DIR)


@pytest.fixture(scope="module")
def bodies(content: ContentStore) -> dict[str, tuple[str, dict[str, Any]]]:
    return file_items(content, EXAMPLES)


def changed(
    bodies: dict[str, tuple[str, dict[str, Any]]], item: str, path: str, value: Any
) -> tuple[str, dict[str, Any]]:
    """The item's body with one field (`answer.sw`, `follow_ups`) replaced."""
    kind, body = bodies[item]
    body = copy.deepcopy(body)
    key, _, language = path.partition(".")
    if language:
        body[key][language] = value
    else:
        body[key] = value
    return kind, body


def test_every_shipped_item_passes(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    for item, (kind, body) in bodies.items():
        assert check_revision(content, item, kind, body, examples=EXAMPLES) == [], item


@pytest.mark.parametrize(
    ("item", "path", "value", "field", "message"),
    [
        ("hiv_prep", "answer.sw", "", "answer.sw", "The Kiswahili text is missing"),
        ("hiv_prep", "title.en", "   ", "title.en", "The English text is missing"),
        ("hiv_prep", "follow_ups", ["hiv_pep", "nope"], "follow_ups", "“nope” is not a topic"),
        ("hiv_prep", "follow_ups", ["hiv_pep"] * 4, "follow_ups", "at most 3"),
        ("hiv_prep", "services", ["prep", "magic"], "services", "unknown service ids"),
        ("hiv_prep", "sources", [], "sources", "Add at least one source"),
        ("hiv_prep", "next_review", "2020-01-01", "next_review", "after the date of the last"),
        ("hiv_prep", "answer.en", "Call 0722000000", "answer.en", "A phone number is typed"),
        ("hiv_prep", "more.sw", "Piga 1190 sasa", "more.sw", "A phone number is typed"),
        ("hiv_prep", "answer.en", "{{ helplines.nope.number }}", "answer.en", "“nope”"),
        ("hiv_prep", "answer.en", "{% for %}", "answer.en", "template mistake"),
        ("hiv_prep", "answer.en", "{{ 1/0 }}", "answer.en", "ZeroDivisionError"),
        ("hiv_prep", "answer.en", "{{ config }}", "answer.en", "“config”, which it cannot"),
        ("hiv_prep", "answer.en", '{{ "x" * 10**9 }}', "answer.en", "powers (**) are not"),
        ("hiv_prep", "more.en", '{{ "x" * 99999 }}', "more.en", "more than 1000 times"),
        ("hiv_prep", "answer.en", "long " * 130, "answer.en", "the limit is 600"),
        ("hiv_prep", "question.sw", "x" * 41, "question.sw", "40 characters or fewer"),
        ("greet", "answer.en", "Call 999 now", "answer.en", "A phone number is typed"),
        ("greet", "answer.sw", "{{ helplines.x }}", "answer.sw", "“x”, which does not exist"),
        ("hiv_prep", "examples", ["a", "b", "c"], "examples", "at least 5"),
        ("hiv_prep", "examples", ["x" * 201, *"abcd"], "examples", "under 200"),
        (
            "hiv_prep",
            "examples",
            ["[oops]{not json}", *"abcd"],
            "examples",
            "broken entity mark-up",
        ),
        ("hiv_prep", "examples", ["HELLO", *"abcd"], "examples", "already an example of greet"),
    ],
)
def test_a_problem_is_reported_on_its_field(
    content: ContentStore,
    bodies: dict[str, tuple[str, dict[str, Any]]],
    item: str,
    path: str,
    value: Any,
    field: str,
    message: str,
) -> None:
    kind, body = changed(bodies, item, path, value)
    problems = check_revision(content, item, kind, body, examples=EXAMPLES)
    assert any(f == field and message in m for f, m in problems), problems


def test_a_template_that_is_fine_is_fine(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    kind, body = changed(bodies, "hiv_prep", "answer.en", "{{ 7*7 }} {{ helplines.gbv.number }}")
    assert check_revision(content, "hiv_prep", kind, body, examples=EXAMPLES) == []


def test_annotated_examples_clash_on_their_plain_text(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    annotated = next(e for e in EXAMPLES["find_service"] if "](" in e)
    plain = parse_example(annotated, "find_service").text.upper()
    assert plain != annotated.upper()
    kind, body = changed(bodies, "hiv_prep", "examples", [plain, *"abcd"])
    problems = check_revision(content, "hiv_prep", kind, body, examples=EXAMPLES)
    assert any("already an example of find_service" in m for _, m in problems)


def test_a_body_for_another_item_is_refused(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    kind, body = bodies["hiv_pep"]
    problems = check_revision(content, "hiv_prep", kind, body, examples=EXAMPLES)
    assert ("", "This revision is for 'hiv_pep', not 'hiv_prep'.") in problems


# diffs ------------------------------------------------------------------------------------------


def test_a_changed_word_is_marked_in_its_line(
    bodies: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    _, old = bodies["hiv_prep"]
    _, new = changed(
        bodies, "hiv_prep", "answer.en", old["answer"]["en"].replace("daily", "DAY", 1)
    )
    [answer] = diff_bodies(old, new)
    assert answer.label == "Answer (English)"
    removed, added = (line for line in answer.lines if line.kind in (REMOVED, ADDED))
    assert (True, "daily") in removed.parts and (True, "DAY") in added.parts
    assert removed.parts[-1] == added.parts[-1] == (False, ", it works very well.")
    assert answer.lines[-1].kind in (SAME, GAP)  # unchanged lines are summarised
    assert changed_fields(old, new) == ["answer.en"]


def test_examples_are_compared_as_a_set(
    bodies: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    _, old = bodies["hiv_prep"]
    _, new = changed(bodies, "hiv_prep", "examples", [*old["examples"][1:], "a brand new one"])
    [examples] = diff_bodies(old, new)
    assert [(line.kind, line.parts) for line in examples.lines] == [
        (REMOVED, ((False, old["examples"][0]),)),
        (ADDED, ((False, "a brand new one"),)),
    ]
    reordered = {**old, "examples": list(reversed(old["examples"]))}
    assert [d.field for d in diff_bodies(old, reordered)] == ["examples"]
    assert diff_bodies(old, reordered)[0].lines == ()


def test_lists_and_sources_diff_as_text(bodies: dict[str, tuple[str, dict[str, Any]]]) -> None:
    _, old = bodies["hiv_prep"]
    sources = [{**old["sources"][0], "year": 2024}, *old["sources"][1:]]
    new = {**old, "follow_ups": ["hiv_testing"], "sources": sources}
    diffs = {d.field: d for d in diff_bodies(old, new)}
    assert set(diffs) == {"follow_ups", "sources"}
    assert any((True, "2024") in line.parts for line in diffs["sources"].lines)


@pytest.mark.parametrize(
    "typed",
    [
        "0722 178 177",
        "0722.178.177",
        "0722-178-177",
        "(0722) 178177",
        "0110 123 456",
        "0800 720 121",
        "+254 722 178 177",
        "+254-722-178-177",
        "+254 (0) 722 178 177",
        "254722178177",
        "00254 722 178177",
        "722 178 177",
        "Call 0722\u00a0178\u00a0177 today",
    ],
)
def test_a_typed_phone_number_is_refused_however_it_is_grouped(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]], typed: str
) -> None:
    for path in ("answer.en", "more.sw"):
        kind, body = changed(bodies, "hiv_prep", path, f"Call {typed} for help.")
        problems = check_revision(content, "hiv_prep", kind, body, examples=EXAMPLES)
        assert any(f == path and "A phone number is typed" in m for f, m in problems), problems


@pytest.mark.parametrize(
    "template",
    [
        "{{ 722178 * 1000 + 177 }}",
        "0{{ 722178177 }}",
        '{{ "0722" ~ "178177" }}',
        '{{ "0722" + " 178 177" }}',
        "{{ [254, 722178177]|join }}",
        "0{{ 722 }} {{ 178 }} {{ 177 }}",
        "07{{ helplines.one2one.number }}4567",
    ],
)
def test_a_phone_number_made_by_the_template_is_refused(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]], template: str
) -> None:
    kind, body = changed(bodies, "greet", "answer.en", f"Call {template} now.")
    problems = check_revision(content, "greet", kind, body, examples=EXAMPLES)
    assert any(f == "answer.en" and "A phone number is typed" in m for f, m in problems), problems


def test_helpline_numbers_and_everyday_figures_are_not_phone_numbers(
    content: ContentStore, bodies: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    text = (
        "Call {{ helplines.one2one.number }} or {{ helplines.childline.number }}. Ages 15-24; "
        "taken for 28 days; on 2026-01-01 at 10.30; {{ 7 * 7 }} clinics; 3,046 people."
    )
    kind, body = changed(bodies, "hiv_prep", "answer.en", text)
    assert check_revision(content, "hiv_prep", kind, body, examples=EXAMPLES) == []
