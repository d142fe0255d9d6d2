"""Content is code: it validates, renders everywhere, escapes, and keeps numbers in one place."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from bot import paths
from bot.content.render import FORMATS, Renderer
from bot.content.store import ContentError, ContentStore, load_content
from bot.content.validate import validate
from nlu.intents import CONVERSATION, TOPIC_INTENTS

ISSUE_2_INTENTS = (
    "hiv_basics",
    "hiv_testing",
    "hiv_prep",
    "condoms",
    "contraception",
    "depression",
)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(paths.CONTENT_DIR, target)
    return target


def test_the_shipped_content_validates() -> None:
    report = validate(paths.CONTENT_DIR, paths.NLU_DATA_DIR, today=date(2026, 11, 23))
    assert report.errors == []
    assert report.warnings == []


def test_the_required_intents_have_content(content: ContentStore) -> None:
    assert set(CONVERSATION) <= set(content.conversation)
    assert set(ISSUE_2_INTENTS) <= set(content.topics)
    assert set(content.topics) <= set(TOPIC_INTENTS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_item_renders_in_every_format_and_language(
    renderer: Renderer, content: ContentStore, fmt: str, language: str
) -> None:
    for intent in content.topics:
        for page in (renderer.answer(fmt, intent, language), renderer.more(fmt, intent, language)):  # type: ignore[arg-type]
            assert page and "{{" not in page and "None" not in page


def test_an_overdue_review_is_a_warning_not_an_error() -> None:
    report = validate(paths.CONTENT_DIR, paths.NLU_DATA_DIR, today=date(2030, 1, 1))
    assert report.errors == []
    assert any("review overdue" in w for w in report.warnings)


def test_a_typed_phone_number_is_an_error(content_copy: Path) -> None:
    path = content_copy / "topics" / "hiv" / "hiv_testing.yml"
    path.write_text(path.read_text().replace("{{ helplines.one2one.number }}", "1190", 1))
    report = validate(content_copy, paths.NLU_DATA_DIR)
    assert any("phone number is typed" in e for e in report.errors)


def test_a_service_the_list_does_not_record_needs_its_note(content_copy: Path) -> None:
    path = content_copy / "ui.yml"
    text = path.read_text()
    path.write_text(text.replace("referral_note_prep:", "referral_note_prep_gone:", 1))
    report = validate(content_copy, paths.NLU_DATA_DIR)
    assert "ui.yml: referral_note_prep missing (see service_map.yml)" in report.errors


def test_an_unknown_helpline_key_is_an_error(content_copy: Path) -> None:
    path = content_copy / "topics" / "hiv" / "hiv_testing.yml"
    path.write_text(
        path.read_text().replace("helplines.one2one.number", "helplines.nobody.number", 1)
    )
    report = validate(content_copy, paths.NLU_DATA_DIR)
    assert any("does not render" in e and "hiv_testing" in e for e in report.errors)


def test_a_missing_translation_or_source_is_an_error(content_copy: Path) -> None:
    path = content_copy / "topics" / "hiv" / "hiv_testing.yml"
    text = path.read_text()
    path.write_text(
        text.replace(
            "title:\n  en: Getting tested for HIV\n  sw: Kupima HIV\n",
            "title:\n  en: Getting tested for HIV\n",
        )
    )
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    assert any("title.sw" in p for p in caught.value.problems)


def test_an_answer_over_the_length_limit_is_an_error(content_copy: Path) -> None:
    path = content_copy / "topics" / "hiv" / "hiv_testing.yml"
    text = path.read_text().replace(
        "  en: |\n    Testing is", "  en: |\n    " + "long " * 130 + "Testing is", 1
    )
    path.write_text(text)
    report = validate(content_copy, paths.NLU_DATA_DIR)
    assert any("hiv_testing.answer.en" in e and "limit 600" in e for e in report.errors)


def test_content_with_template_tricks_is_sandboxed(renderer: Renderer) -> None:
    with pytest.raises(SecurityError):
        renderer.text("{{ ''.__class__.__mro__[1].__subclasses__() }}", "en")


def test_html_in_content_is_escaped_for_telegram(content: ContentStore) -> None:
    tricky = content.ui["menu_prompt"].model_copy(update={"en": "<b>x</b> & <script>"})
    store = ContentStore(
        content.root,
        content.topics,
        content.conversation,
        content.helplines,
        content.menu,
        {**content.ui, "menu_prompt": tricky},
    )
    rendered = Renderer(store).message("html", Renderer(store).ui("menu_prompt", "en"))
    assert rendered == "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;"


def test_helplines_match_the_verified_list() -> None:
    verified = paths.PROJECT_ROOT.parent / "shared" / "data" / "helplines.md"
    store = load_content(paths.CONTENT_DIR)
    numbers = {h.number for h in store.helplines.values()}
    assert numbers == {"1190", "1195", "116", "1199", "1192", "999", "112"}
    if verified.is_file():  # shared/ sits beside the repository on developer and CI machines
        text = verified.read_text()
        assert all(f"| {n} |" in text or f"{n}," in text or f" {n} " in text for n in numbers)
