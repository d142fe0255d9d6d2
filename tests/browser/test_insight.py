"""An editor opens the Insight dashboard in a real browser; its screenshot goes to docs/screenshots.

The real `healthbot web` process serves a SQLite database holding the known rows of
tests/insight/seed.py plus a month of generated traffic, so the charts have something to draw.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.migrate import upgrade
from bot.db.models import (
    NAIROBI_OFFSET,
    CaseDB,
    MessageDB,
    ReferralSearchDB,
    UnansweredDB,
    UserDB,
    utcnow,
)
from bot.db.session import create_engine, session_factory
from bot.insight import first_day, start_of
from tests.browser.test_console import SECRET, shot
from tests.browser.web import CHROMIUM, FLAGS, PASSWORD, add_account, healthbot_web, web_env
from tests.insight import seed as expected
from tests.insight.seed import seed

pytestmark = pytest.mark.browser
INTENTS = ["hiv_testing", "condoms", "prep", "contraception", "stress", "periods", "sti_signs"]
COUNTIES = ["Nairobi", "Kisumu", "Mombasa", "Homa Bay", "Nakuru", "Kakamega"]
QUESTIONS = [
    "can I get tested at school",
    "is it normal to feel this way",
    "where do I find a clinic",
]


async def traffic(session: AsyncSession) -> None:
    """A month of plausible, generated traffic from 40 made-up young people."""
    rng = random.Random(2026)
    first = first_day(days=30, now=utcnow())
    people = [f"{i:064x}" for i in range(1000, 1040)]
    session.add_all(UserDB(id=p, channel="telegram", state="idle", state_data={}) for p in people)
    await session.flush()
    for day in range(30):
        start = start_of(first + timedelta(days=day))
        busy = 30 + 12 * (day % 7 in (5, 6)) + day // 2
        for _ in range(rng.randint(busy - 8, busy + 8)):
            when = start + timedelta(minutes=rng.randint(6 * 60, 23 * 60))
            session.add(
                MessageDB(
                    user_id=rng.choice(people[: 10 + day]),
                    direction="in",
                    kind="text",
                    intent=rng.choices(INTENTS, weights=[9, 7, 5, 4, 4, 2, 2])[0],
                    confidence=rng.uniform(0.3, 1.0),
                    created_at=when,
                )
            )
            if rng.random() < 0.15:
                county = rng.choices(COUNTIES, weights=[8, 4, 3, 2, 1, 1])[0]
                session.add(
                    ReferralSearchDB(
                        service=rng.choice(INTENTS[:3]),
                        county=county,
                        day=(when + NAIROBI_OFFSET).date(),
                    )
                )
        if day % 3 == 0:
            session.add(
                UnansweredDB(
                    text=rng.choice(QUESTIONS),
                    language="en",
                    guess=None,
                    day=(start + NAIROBI_OFFSET).date(),
                )
            )
        if day % 2 == 0:
            session.add(
                CaseDB(
                    user_id=people[day],
                    channel="telegram",
                    language="en",
                    source="crisis",
                    category="suicide" if day % 4 else "sexual_violence",
                    priority="urgent",
                    status="closed",
                    opened_at=start + timedelta(hours=10),
                    claimed_at=start + timedelta(hours=10, minutes=rng.randint(1, 12)),
                    closed_at=start + timedelta(hours=11),
                )
            )


async def prepare(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, first=first_day(days=7, now=utcnow()))
        await traffic(session)
    await engine.dispose()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    """The real `healthbot web` on a seeded database, with an editor account; its base URL."""
    database_url = f"sqlite:///{tmp_path / 'data' / 'h.db'}"
    asyncio.run(prepare(database_url))
    env = web_env(tmp_path, SECRET, database_url)
    add_account(tmp_path, env, "wanjiru", "editor")
    with healthbot_web(tmp_path, env) as base:
        yield base


def test_an_editor_reads_the_insight_dashboard(console: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(console + "/login")
        page.fill("input[name=username]", "wanjiru")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Log in')")
        page.wait_for_url(re.compile(r"/content$"))  # an editor's home
        page.goto(console + "/insight")
        page.wait_for_selector("h1:has-text('Insight')")
        assert page.locator("svg.chart").count() == 2
        assert page.locator("svg.chart rect.messages").count() == 30
        assert page.locator("section[aria-labelledby=crisis] td:text-is('<5')").count() >= 1
        html = page.content()
        assert expected.SCRIPT not in html and "&lt;script&gt;" in html
        assert not re.search(r"[0-9a-f]{64}", html)
        shot(page, "insight")
        page.click("nav.periods a:has-text('7 days')")
        page.wait_for_url(console + "/insight?days=7")
        assert page.locator("svg.chart rect.messages").count() == 7
        browser.close()
