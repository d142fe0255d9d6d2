"""An editor changes an answer and a reviewer publishes it, in a real browser; the bot says it.

The real `healthbot web` process (which imports content/ on start) serves a temporary SQLite
database; the bot's engine is built in the test process on the same database, as another process
of the bot would be. Screenshots of the edit form, the review and the history go to
docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import MessageDB
from bot.db.session import create_engine, session_factory
from bot.web.accounts import add_user
from nlu.embedded import EmbeddedParser
from tests.browser.test_console import SECRET
from tests.browser.web import CHROMIUM, FLAGS, PASSWORD, SCREENSHOTS, healthbot_web, web_env
from tests.conftest import make_engine, run_in_new_loop
from tests.factories import text

pytestmark = pytest.mark.browser
OLD = "Taken daily, it works very well."
NEW = "Taken daily, it works very well: more than 9 in 10 infections are prevented."


async def seed(database_url: str) -> None:
    """An editor and a reviewer."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        await add_user(session=session, username="wanjiru", password=PASSWORD, role="editor")
        await add_user(session=session, username="otieno", password=PASSWORD, role="reviewer")
    await engine.dispose()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real `healthbot web` on a fresh database: its base URL and the database URL."""
    database_url = f"sqlite:///{tmp_path / 'data' / 'h.db'}"
    run_in_new_loop(seed(database_url))  # leaves pytest-asyncio's event loop alone
    env = web_env(tmp_path, SECRET, database_url)
    with healthbot_web(tmp_path, env) as base:
        yield base, database_url


def log_in(page: Page, base: str, username: str, home: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(base + home)


def shot(page: Page, name: str, until: str = "") -> None:
    """A full-page screenshot, cut above the element `until` (long forms stay readable)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1200, "height": 900}
    clip = None
    if until:
        top = page.locator(until).first.evaluate(
            "e => e.getBoundingClientRect().top + window.scrollY"
        )
        clip = {"x": 0, "y": 0, "width": size["width"], "height": int(top) - 8}
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, clip=clip)


async def _ask(
    database_url: str, parser: EmbeddedParser, content: ContentStore, user: str
) -> tuple[str, int | None]:
    db = create_engine(database_url)
    sessions = session_factory(db)
    try:
        engine = make_engine(sessions, parser, content, live=True)
        [reply] = await engine.handle(text("what is prep", user=user))
        async with sessions() as session:
            sent = await session.scalar(
                select(MessageDB)
                .where(MessageDB.direction == "out", MessageDB.kind == "answer")
                .order_by(MessageDB.id.desc())
                .limit(1)
            )
    finally:
        await db.dispose()
    return reply.text, sent.content_revision if sent is not None else None


def ask_the_bot(
    database_url: str, parser: EmbeddedParser, content: ContentStore, user: str
) -> tuple[str, int | None]:
    """What another process of the bot answers to "what is prep", and the revision it records.

    It runs in a thread of its own: Playwright's synchronous API owns this thread's event loop.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_in_new_loop, _ask(database_url, parser, content, user)).result()


def test_an_editor_changes_an_answer_and_a_reviewer_publishes_it(
    console: tuple[str, str], parser: EmbeddedParser, content: ContentStore
) -> None:
    base, database_url = console
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        log_in(page, base, "wanjiru", "/content")
        page.click("a:text-is('hiv_prep')")
        page.click("a:has-text('Edit')")
        page.wait_for_url(base + "/content/hiv_prep/edit")
        answer = page.input_value("textarea[name='answer.en']")
        assert OLD in answer
        page.fill("textarea[name='answer.en']", answer.replace(OLD, NEW))
        page.click("button:has-text('Preview')")
        page.wait_for_selector(f".chat .bubble:has-text('{NEW}')")
        shot(page, "content-edit", until="p.muted:has-text('Tell me more')")
        page.click("button:has-text('Send for review')")
        page.wait_for_url(base + "/content/hiv_prep")
        assert "Sent for review as revision 2" in page.inner_text("p.flash")
        page.click("button:has-text('Log out')")
        page.wait_for_url(base + "/login")

        log_in(page, base, "otieno", "/review")
        page.click("a:text-is('hiv_prep')")
        page.wait_for_url(base + "/review/hiv_prep/2")
        added = page.locator(".diff .added mark").first.inner_text()
        assert "more than 9 in 10" in added
        shot(page, "review")
        page.click("button:has-text('Approve and publish')")
        page.wait_for_url(base + "/review")
        assert "Published hiv_prep revision 2" in page.inner_text("p.flash")
        assert "Nothing is waiting for review." in page.content()

        reply, revision = ask_the_bot(database_url, parser, content, "a" * 64)
        assert NEW in reply and revision == 2

        page.goto(base + "/content/hiv_prep/history")
        page.once("dialog", lambda dialog: dialog.accept())  # the inline script runs under CSP
        page.click("button:has-text('Roll back to r1')")
        page.wait_for_selector("p.flash:has-text('published again, as revision 3')")
        shot(page, "history")
        browser.close()

    reply, revision = ask_the_bot(database_url, parser, content, "b" * 64)
    assert NEW not in reply and OLD in reply and revision == 3
