"""The safety texts are content too: both languages, verified helplines only, sources, reviews."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot import paths
from bot.content.validate import validate

TODAY = date(2026, 12, 4)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(paths.CONTENT_DIR, target)
    return target


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / "safety" / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def errors(folder: Path) -> list[str]:
    return validate(folder, paths.NLU_DATA_DIR, today=TODAY).errors


def test_the_shipped_safety_texts_validate() -> None:
    assert errors(paths.CONTENT_DIR) == []


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("responses.yml", "{{ helplines.redcross.number }}", "1199"),
        ("conversation.yml", "{{ helplines.gbv.number }}", "0722 178 177"),
    ],
)
def test_a_typed_number_is_refused(content_copy: Path, name: str, old: str, new: str) -> None:
    edit(content_copy, name, old, new)
    assert any(f"safety/{name}" in e and "phone number is typed" in e for e in errors(content_copy))


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("responses.yml", "helplines.childline.number", "helplines.befrienders.number"),
        ("conversation.yml", "helplines.redcross.number", "helplines.niskize.number"),
        ("responses.yml", "overdose: [emergency, police, redcross]", "overdose: [befrienders]"),
    ],
)
def test_a_helpline_that_is_not_verified_is_refused(
    content_copy: Path, name: str, old: str, new: str
) -> None:
    edit(content_copy, name, old, new)
    assert any(e.startswith("safety:") for e in errors(content_copy))


def test_every_new_answer_needs_both_languages(content_copy: Path) -> None:
    text = (content_copy / "safety" / "responses.yml").read_text("utf-8")
    start = text.index("  exploitation:\n    self:\n")
    sw = text.index("      sw: |", start)
    friend = text.index("    friend:", sw)
    (content_copy / "safety" / "responses.yml").write_text(text[:sw] + text[friend:], "utf-8")
    assert any(e.startswith("safety:") and "sw" in e for e in errors(content_copy))


def test_every_category_needs_sources(content_copy: Path) -> None:
    edit(
        content_copy,
        "responses.yml",
        "  unsafe_abortion:\n    - title: Abortion care guideline",
        "  unsafe_abortion: []\n  old_unsafe_abortion:\n    - title: Abortion care guideline",
    )
    assert "safety unsafe_abortion: no sources" in errors(content_copy)


def test_a_frame_kind_without_an_effect_is_refused(content_copy: Path) -> None:
    edit(content_copy, "rules.yml", "  past: possible\n", "")
    assert any("frame_effects" in e for e in errors(content_copy))
