"""A young person in a phone's browser: the web chat at /chat, against the real `healthbot web`.

Playwright drives Debian's Chromium on a 390×844 touch viewport; the browser's location is set
to Nairobi. QUICK_EXIT_URL points at a neutral page served locally. Screenshots go to
docs/screenshots/chat.png and chat-crisis.png.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, Response, sync_playwright

from tests.browser.web import (
    CHROMIUM,
    FLAGS,
    PASSWORD,
    SCREENSHOTS,
    add_account,
    healthbot_web,
    neutral_site,
    web_env,
)

pytestmark = pytest.mark.browser
SECRET = "browser-chat-secret-0123456789abcdef"
PHONE = {"width": 390, "height": 844}
FIRST_LOAD_LIMIT = 100 * 1024
THUMB = 48  # CSS pixels: the least height of a button a thumb should hit
COUNSELLOR_SAYS = "Are you still there? I am here for you."


@dataclass(frozen=True)
class Site:
    """The running web chat, the neutral page its quick exit goes to, and its database file."""

    base: str
    neutral: str
    database: Path

    @property
    def exit_url(self) -> str:
        return self.neutral + "/weather"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The real `healthbot web` process on a fresh database, without Telegram; a counsellor."""
    database = tmp_path / "data" / "h.db"
    with neutral_site() as neutral:
        env = web_env(
            tmp_path, SECRET, f"sqlite:///{database}", QUICK_EXIT_URL=neutral + "/weather"
        )
        add_account(tmp_path, env, "amina", "counsellor")
        with healthbot_web(tmp_path, env, ready="/chat") as base:
            yield Site(base, neutral, database)


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def ask(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def chat_cookie(context: BrowserContext) -> list[str]:
    return [c["value"] for c in context.cookies() if c["name"] == "healthbot_chat"]


def wait_until_the_cookie_is_gone(context: BrowserContext) -> None:
    deadline = time.monotonic() + 10
    while chat_cookie(context) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert chat_cookie(context) == [], "the quick exit expires the chat cookie"


def counsellor_replies(base: str, text: str) -> None:
    """The counsellor signs in to the console, takes case 1 and writes to the young person."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as staff:

        def csrf(path: str) -> str:
            found = re.search(r'name="csrf_token" value="([^"]+)"', staff.get(path).text)
            assert found, path
            return found.group(1)

        login = {"username": "amina", "password": PASSWORD, "csrf_token": csrf("/login")}
        assert staff.post("/login", data=login).status_code == 303
        token = csrf("/inbox")
        assert staff.post("/cases/1/claim", data={"csrf_token": token}).status_code == 303
        said = staff.post("/cases/1/reply", data={"csrf_token": token, "text": text})
        assert said.status_code == 303


def test_a_young_person_chats_finds_a_clinic_and_gets_help_in_a_crisis(site: Site) -> None:
    loaded: list[int] = []
    problems: list[str] = []
    asked: list[str] = []

    def weigh(response: Response) -> None:
        api = "/chat/send" in response.url or "/chat/poll" in response.url
        if response.url.startswith(site.base) and not api:
            loaded.append(len(response.body()))

    def note(request: Request) -> None:
        if request.url.startswith(site.base):
            asked.append(request.url.removeprefix(site.base).split("?")[0])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": -1.2921, "longitude": 36.8219},
            permissions=["geolocation"],
        )
        context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        context.on("weberror", lambda error: problems.append(str(error.error)))
        page = context.new_page()
        page.on("response", weigh)
        page.on("request", note)
        page.goto(site.neutral + "/before")  # where the young person was before the chat
        page.goto(site.base + "/chat")
        assert page.title() == "Chat"
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
        answer = page.locator(".msg.bot", has=page.locator(".calls")).last
        answer.wait_for()
        first = answer.locator(":scope > *").first
        assert first.get_attribute("class") == "calls", "the helplines come first"
        buttons = answer.locator(".calls a.call")
        assert buttons.count() >= 2
        assert buttons.first.get_attribute("href") == "tel:1199"
        for index in range(buttons.count()):
            button = buttons.nth(index)
            assert (button.get_attribute("href") or "").startswith("tel:")
            box = button.bounding_box()
            assert box is not None and box["height"] >= THUMB, box
        red_cross = page.get_by_role("link", name="Call Kenya Red Cross counselling line, 1199")
        assert red_cross.count() == 1 and red_cross.is_visible()
        assert "You matter" in page.inner_text("#log")
        shot(page, "chat-crisis")

        before_exit = len(asked)
        page.keyboard.press("Escape")
        page.wait_for_url(site.exit_url)
        assert "Weather today" in page.inner_text("body")
        wait_until_the_cookie_is_gone(context)
        assert asked[before_exit:] == ["/chat/exit"], "polling stopped; only the exit was sent"

        page.evaluate("setTimeout(() => history.back(), 0)")  # the page leaves after
        page.wait_for_url(site.neutral + "/before")  # back skips the chat: it was replaced
        assert "/chat" not in page.url

        counsellor_replies(site.base, COUNSELLOR_SAYS)
        again = context.new_page()  # the same phone opens the chat again later
        again.goto(site.base + "/chat")
        again.wait_for_selector("text=Which language do you prefer?")
        again.wait_for_timeout(4500)  # longer than a poll's interval
        assert COUNSELLOR_SAYS not in again.inner_text("#log")

        again.click("#exit")  # the visible button leaves the same way
        again.wait_for_url(site.exit_url)
        wait_until_the_cookie_is_gone(context)

        third = context.new_page()
        third.goto(site.base + "/chat")
        third.wait_for_selector("text=Which language do you prefer?")
        ask(third, "toka")  # so does typing the exit word
        third.wait_for_url(site.exit_url)
        wait_until_the_cookie_is_gone(context)
        assert problems == []

        expired = context.new_page()  # a page whose chat is gone: every refusal has helplines
        expired.goto(site.base + "/chat")
        expired.wait_for_selector("text=Which language do you prefer?")
        context.clear_cookies()
        ask(expired, "I want to kill myself")
        refused = expired.locator(".msg.note", has_text="reload")
        refused.wait_for()
        safety = expired.locator(".msg.bot", has=expired.locator(".calls")).last
        assert safety.locator(":scope > *").first.get_attribute("class") == "calls"
        assert safety.locator("a.call").first.get_attribute("href") == "tel:1199"
        ask(expired, "hello")
        expect_calls = expired.locator(".msg.note").last.locator("a.call")
        expect_calls.first.wait_for()
        hrefs = [expect_calls.nth(i).get_attribute("href") for i in range(expect_calls.count())]
        assert hrefs == ["tel:1199", "tel:1195", "tel:116"]
        browser.close()

    with closing(sqlite3.connect(site.database)) as database:
        [(left_how,)] = database.execute("SELECT left_how FROM cases WHERE id = 1").fetchall()
    assert left_how == "quick_exit"
