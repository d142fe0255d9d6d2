"""A counsellor in a real browser: log in, take a case, reply; the young person's Telegram gets it.

Playwright drives Debian's Chromium (`/usr/bin/chromium`, installed by `make test`) against the
real `healthbot web` process; the Bot API is the local emulator. Screenshots of the pages go to
docs/screenshots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from bot.cases.repository import open_case
from bot.cases.seal import seal
from bot.db.migrate import upgrade
from bot.db.repository import get_or_create_user
from bot.db.session import create_engine, session_factory
from tests.browser.web import (
    CHROMIUM,
    FLAGS,
    PASSWORD,
    SCREENSHOTS,
    add_account,
    healthbot_web,
    web_env,
)
from tests.fakes.bot_api import BotApiEmulator

pytestmark = pytest.mark.browser
SECRET = "browser-secret-0123456789abcdef"


async def seed(database_url: str) -> None:
    """A young person on Telegram waiting for a counsellor."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        user = await get_or_create_user(session=session, user_id="y" * 64, channel="telegram")
        await open_case(
            session=session,
            user_id=user.id,
            channel="telegram",
            language="en",
            source="request",
            priority="urgent",
            category="self_harm",
            route=seal(SECRET, "telegram:555000111"),
        )
    await engine.dispose()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, BotApiEmulator]]:
    database_url = f"sqlite:///{tmp_path / 'data' / 'h.db'}"
    asyncio.run(seed(database_url))
    with BotApiEmulator() as emulator:
        env = web_env(
            tmp_path,
            SECRET,
            database_url,
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_BASE_URL=emulator.base_url,
        )
        add_account(tmp_path, env, "amina", "counsellor")
        with healthbot_web(tmp_path, env) as base:
            yield base, emulator


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_counsellor_logs_in_takes_a_case_and_replies(
    console: tuple[str, BotApiEmulator],
) -> None:
    base, emulator = console
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(base + "/login")
        shot(page, "login")
        page.fill("input[name=username]", "amina")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Log in')")
        page.wait_for_url(base + "/inbox")
        assert "Case 1 · urgent" in page.content()
        page.click("button:has-text('Go on duty')")
        shot(page, "inbox")
        page.click("button:has-text('Take case 1')")
        page.wait_for_url(base + "/cases/1")
        joined = emulator.wait_for(lambda sent: len(sent) >= 1)
        assert "A counsellor has joined" in joined[0]["text"]
        page.fill("textarea[name=text]", "I'm here with you. Are you safe right now?")
        page.click("button:has-text('Send')")
        page.wait_for_selector("text=Are you safe right now?")
        sent = emulator.wait_for(lambda sent: len(sent) >= 2)
        assert str(sent[1]["chat_id"]) == "555000111"
        assert "Are you safe right now?" in sent[1]["text"].replace("&#39;", "'")
        shot(page, "case")
        browser.close()
