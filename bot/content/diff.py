"""What changed between two revision bodies, field by field and word by word, for reviewers.

Texts are compared line by line with difflib; a changed line is shown twice (before, after) with
the changed words marked. Training examples are a set: the diff lists the added and removed ones.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

SAME, ADDED, REMOVED, GAP = "same", "added", "removed", "gap"
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}
LABELS = {
    "question": "Question",
    "title": "Title",
    "answer": "Answer",
    "more": "Tell me more",
    "follow_ups": "Follow-ups",
    "services": "Services",
    "sources": "Sources",
    "reviewed_on": "Reviewed on",
    "next_review": "Next review",
    "examples": "Training examples",
}
_TOKENS = re.compile(r"\d{4}-\d\d-\d\d|\s+|\w+|[^\w\s]")  # a date is one word


@dataclass(frozen=True)
class Line:
    """One line of a field's diff: its kind and its text in parts, `True` parts changed."""

    kind: str
    parts: tuple[tuple[bool, str], ...] = ()


@dataclass(frozen=True)
class FieldDiff:
    """The changed lines of one field (`answer.sw`), with a label for people."""

    field: str
    label: str
    lines: tuple[Line, ...]


def diff_bodies(
    old: Mapping[str, Any], new: Mapping[str, Any], *, context: int = 1
) -> list[FieldDiff]:
    """Every field that differs between two bodies, in form order."""
    before, after = flatten(old), flatten(new)
    diffs: list[FieldDiff] = []
    for field in [*after, *(f for f in before if f not in after)]:
        a, b = before.get(field, ""), after.get(field, "")
        if a == b:
            continue
        if field == "examples":
            lines = _set_diff(_as_list(a), _as_list(b))
        else:
            lines = _text_diff(str(a).splitlines(), str(b).splitlines(), context)
        diffs.append(FieldDiff(field, label(field), tuple(lines)))
    return diffs


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The names of the fields that differ (`answer.en`, `examples`...)."""
    before, after = flatten(old), flatten(new)
    return [f for f in {**before, **after} if before.get(f) != after.get(f)]


def flatten(body: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """A body as comparable fields: one per language of each text, lists and sources as text."""
    fields: dict[str, str | list[str]] = {}
    for key, value in body.items():
        if key in ("intent", "examples"):
            continue
        if isinstance(value, Mapping) and set(value) <= set(LANGUAGE_NAMES):
            for language in LANGUAGE_NAMES:
                fields[f"{key}.{language}"] = str(value.get(language, ""))
        elif key == "sources":
            fields[key] = yaml.safe_dump(
                value, sort_keys=False, allow_unicode=True, width=10_000
            ).strip()
        elif isinstance(value, list):
            fields[key] = ", ".join(str(v) for v in value)
        else:
            fields[key] = str(value)
    fields["examples"] = [str(e) for e in body.get("examples", []) or []]
    return fields


def label(field: str) -> str:
    """`answer.sw` → `Answer (Kiswahili)`."""
    name, _, language = field.partition(".")
    text = LABELS.get(name, name.replace("_", " ").capitalize())
    return f"{text} ({LANGUAGE_NAMES[language]})" if language in LANGUAGE_NAMES else text


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def _set_diff(old: list[str], new: list[str]) -> list[Line]:
    before = {e.lower() for e in old}
    after = {e.lower() for e in new}
    removed = [Line(REMOVED, ((False, e),)) for e in old if e.lower() not in after]
    added = [Line(ADDED, ((False, e),)) for e in new if e.lower() not in before]
    return removed + added


def _text_diff(old: list[str], new: list[str], context: int) -> list[Line]:
    lines: list[Line] = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = old[i1:i2]
            head = _context(same, context) if index > 0 else []
            tail = _context(same[::-1], context)[::-1] if index < len(opcodes) - 1 else []
            shown = same if len(same) <= len(head) + len(tail) else [*head, None, *tail]
            lines += [Line(SAME, ((False, t),)) if t is not None else Line(GAP) for t in shown]
            continue
        pairs = list(zip(old[i1:i2], new[j1:j2], strict=False)) if tag == "replace" else []
        for a, b in pairs:
            lines += _word_diff(a, b)
        lines += [Line(REMOVED, ((False, t),)) for t in old[i1 + len(pairs) : i2]]
        lines += [Line(ADDED, ((False, t),)) for t in new[j1 + len(pairs) : j2]]
    return lines


def _context(lines: list[str], count: int) -> list[str]:
    """The first lines up to and including `count` that are not blank."""
    taken: list[str] = []
    for line in lines:
        if count <= 0:
            break
        taken.append(line)
        count -= bool(line.strip())
    return taken


def _word_diff(old: str, new: str) -> list[Line]:
    """A changed line, before and after, with the changed words marked."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    removed: list[tuple[bool, str]] = []
    added: list[tuple[bool, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            removed.append((changed, "".join(a[i1:i2])))
        if j2 > j1:
            added.append((changed, "".join(b[j1:j2])))
    return [Line(REMOVED, tuple(removed)), Line(ADDED, tuple(added))]
