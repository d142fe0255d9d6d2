"""The Insight page: who may open it, what it shows, and what it never shows."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import utcnow
from bot.dialogue.counsellor import Desk
from bot.insight import first_day
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from bot.web.insight import day_chart, duration, nice_ceiling
from tests.conftest import DESK_SETTINGS, MIDDAY_IN_NAIROBI, SECRET
from tests.insight import seed as expected
from tests.insight.seed import seed
from tests.web.test_inbox import PASSWORD, ROLES, log_in


@pytest.fixture
async def console(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> AsyncIterator[httpx.AsyncClient]:
    """The console with one account per role and this week's known rows."""
    async with sessions() as session, session.begin():
        for role in ROLES:
            await add_user(session=session, username=role, password=PASSWORD, role=role)
        await seed(session, first=first_day(days=7, now=utcnow()))
    desk = Desk(DESK_SETTINGS, Renderer(content), clock=lambda: MIDDAY_IN_NAIROBI)
    app = build_web_app(secret=SECRET, sessions=sessions, desk=desk, bot=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def cells(page: str, heading: str) -> list[list[str]]:
    """The text of each body row's cells in the first table after the heading with this id."""
    section = page.split(f'id="{heading}"', 1)[1]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>|\s+", " ", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_editors_reviewers_and_admins_may_open_it(
    console: httpx.AsyncClient, role: str | None
) -> None:
    if role is not None:
        assert (await log_in(console, role)).status_code == 303
    response = await console.get("/insight")
    if role is None:
        assert response.status_code == 303 and response.headers["location"] == "/login"
    elif role == "counsellor":
        assert response.status_code == 403
    else:
        assert response.status_code == 200 and "<h1>Insight</h1>" in response.text


@pytest.mark.parametrize(
    ("asked", "days"), [("7", 7), ("90", 90), ("", 30), ("1000", 30), ("x", 30)]
)
async def test_the_period_comes_from_the_query_and_falls_back_to_30(
    console: httpx.AsyncClient, asked: str, days: int
) -> None:
    await log_in(console, "editor")
    page = (await console.get("/insight", params={"days": asked})).text
    assert f"the last {days} days" in page
    assert f'<a href="/insight?days={days}" aria-current="page">' in page
    assert len(cells(page, "messages")) == days  # one table row per day


async def test_it_shows_the_seeded_figures(console: httpx.AsyncClient) -> None:
    await log_in(console, "reviewer")
    page = (await console.get("/insight", params={"days": "7"})).text
    messages = cells(page, "messages")
    assert [row[1:] for row in messages] == [
        [str(m), str(u)] for m, u in (expected.MESSAGES.get(d, (0, 0)) for d in range(6, -1, -1))
    ]
    assert [row[:2] for row in cells(page, "intents")] == [[n, str(c)] for n, c in expected.INTENTS]
    unanswered = cells(page, "unanswered")
    assert [row[:2] for row in unanswered] == [
        ["condoms", "7"],
        ["prep", "2"],
        ["out of scope", "2"],
    ]
    assert unanswered[0][2].count("condom question") == 5
    assert [row[:5] for row in cells(page, "helpfulness")] == [
        ["condoms", "2", "2", "1", "67%"],
        ["hiv_testing", "3", "0", "2", "0%"],
        ["prep", "files", "1", "1", "50%"],
        ["condoms", "1", "1", "0", "100%"],
    ]
    assert '<a href="/content/hiv_testing">hiv_testing</a>' in page
    assert [row[:2] for row in cells(page, "crisis")] == [
        ["suicide", "6"],
        ["self harm", "<5"],
        ["sexual violence", "0"],
        ["immediate danger", "<5"],
        ["overdose", "0"],
        ["unsafe abortion", "0"],
        ["exploitation", "0"],
    ]
    assert "<strong>&lt;5</strong> crisis messages" in page
    assert [row[:2] for row in cells(page, "referrals")] == [
        ["Nairobi", "6"],
        ["Homa Bay", "<5"],
        ["Kisumu", "<5"],
        ["unknown", "<5"],
    ]
    assert '<td>hiv_testing</td><td class="n">7</td>' in page
    assert cells(page, "cases") == [
        ["urgent", "9", "<5", "3.5 min", "15 min", "50 min"],
        ["high", "<5", "0", "—", "—", "—"],
        ["normal", "<5", "<5", "—", "—", "—"],
    ]


async def test_it_shows_no_user_ids_and_escapes_the_questions(console: httpx.AsyncClient) -> None:
    await log_in(console, "admin")
    page = (await console.get("/insight", params={"days": "7"})).text
    assert not [user for user in expected.USERS if user in page]
    assert not re.search(r"[0-9a-f]{64}", page)
    assert "<script>" not in page
    assert html.escape(expected.SCRIPT, quote=False) in page.replace("&#39;", "'")


def test_hidden_counts_are_drawn_at_one_height_whatever_they_are() -> None:
    days = [date(2026, 11, 24) + timedelta(days=i) for i in range(4)]
    chart = day_chart(days, [1, 4, 0, 10], ["a", "b", "c", "d"], protect=True)
    one, four, zero, ten = (bar.height for bar in chart.bars)
    assert one == four == ten / 2 and zero == 0
    assert [bar.hidden for bar in chart.bars] == [True, True, False, False]
    plain = day_chart(days, [1, 4, 0, 10], ["a", "b", "c", "d"])
    assert [bar.height for bar in plain.bars] == [ten / 10, 4 * ten / 10, 0, ten]
    assert not any(bar.hidden for bar in plain.bars)


@pytest.mark.parametrize(
    ("value", "top"), [(0, 2), (1, 2), (5, 6), (10, 10), (11, 20), (31, 40), (71, 80), (801, 1000)]
)
def test_chart_tops_are_round(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0.5, "30 s"),
        (3.5, "3.5 min"),
        (4, "4 min"),
        (15, "15 min"),
        (80, "1 h 20 min"),
        (120, "2 h"),
        (52 * 60, "2 d 4 h"),
        (None, "—"),
    ],
)
def test_durations_read_as_words(minutes: float | None, text: str) -> None:
    assert duration(None if minutes is None else timedelta(minutes=minutes)) == text
