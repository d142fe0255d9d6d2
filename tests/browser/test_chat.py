"""A young person in a phone's browser: the web chat at /chat, against the real `healthbot web`.

Playwright drives Debian's Chromium on a 390×844 touch viewport; the browser's location is set
to Nairobi. Screenshots go to docs/screenshots/chat.png and chat-crisis.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, sync_playwright

from tests.browser.web import CHROMIUM, FLAGS, SCREENSHOTS, healthbot_web, web_env

pytestmark = pytest.mark.browser
SECRET = "browser-chat-secret-0123456789abcdef"
PHONE = {"width": 390, "height": 844}
FIRST_LOAD_LIMIT = 100 * 1024


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    """The real `healthbot web` process on a fresh database, without Telegram."""
    env = web_env(tmp_path, SECRET, f"sqlite:///{tmp_path / 'data' / 'h.db'}")
    with healthbot_web(tmp_path, env, ready="/chat") as base:
        yield base


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def ask(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_a_young_person_chats_finds_a_clinic_and_gets_help_in_a_crisis(web: str) -> None:
    loaded: list[int] = []
    problems: list[str] = []

    def weigh(response: Response) -> None:
        if "/chat/send" not in response.url and "/chat/poll" not in response.url:
            loaded.append(len(response.body()))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": -1.2921, "longitude": 36.8219},
            permissions=["geolocation"],
        )
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("response", weigh)
        page.goto(web + "/chat")
        page.click("button:has-text('English')")
        page.wait_for_selector("text=I'll reply in English")
        assert sum(loaded) <= FIRST_LOAD_LIMIT, sum(loaded)

        ask(page, "how do i get tested for hiv")
        page.wait_for_selector("text=Getting tested for HIV")
        shot(page, "chat")

        page.click("button:has-text('Where can I get this?')")
        page.click("button:has-text('Share my location')")
        page.wait_for_selector("text=km away")

        ask(page, "I want to kill myself")
        page.wait_for_selector("text=1199")
        assert "You matter" in page.inner_text("#log")
        shot(page, "chat-crisis")

        page.click("#exit")
        page.wait_for_selector("text=Weather today")
        assert "1199" not in page.inner_text("#log")
        assert problems == []
        browser.close()
