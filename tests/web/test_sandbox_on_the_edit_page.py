"""What the editors' sandbox refuses reaches the editor beside the field, in words they can act
on: never a 500, never a saved revision, the text kept in the form."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import revisions
from tests.web import test_content_pages as pages
from tests.web.test_content_pages import edit, form_of, log_in

# the content pages' seeded database and console
seeded_sqlite, sqlite_url, live = pages.seeded_sqlite, pages.sqlite_url, pages.live
bot_engine, console = pages.bot_engine, pages.console

BOMBS = {
    "a number too big": (
        "{{ 'x'.ljust(1000000000) }}",
        "The text cannot be used: numbers above 10,000 are not allowed in content text.",
    ),
    "a loop over range": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "The text cannot be used: loops over anything but a variable",
    ),
    "a repeat of a repeat": (
        "{{ ('x' * 1000) * 1000 * 1000 }}",
        "texts or lists over 10,000 characters or items are not allowed in content text.",
    ),
    "lipsum": ("{{ lipsum(3) }}", "The text asks for “lipsum”, which it cannot use."),
}


@pytest.mark.parametrize(("source", "message"), BOMBS.values(), ids=BOMBS.keys())
@pytest.mark.parametrize("action", ["preview", "save", "submit"])
async def test_a_refusal_is_shown_beside_the_answer_and_nothing_is_saved(
    console: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    action: str,
    source: str,
    message: str,
) -> None:
    await log_in(console, "editor")
    answer = f"PrEP is a daily pill. {source}"
    response = await edit(console, "hiv_prep", action, answer_en=answer)
    assert response.status_code == (200 if action == "preview" else 400)
    errors = re.search(r'<div class="field-errors" id="error-answer.en">(.*?)</div>', response.text)
    assert errors and message in unescape(errors.group(1)), response.text[:3000]
    assert form_of(response.text)["answer.en"].strip() == answer
    async with sessions() as session:
        assert len(await revisions.history(session, "hiv_prep")) == 1, "nothing was saved"
