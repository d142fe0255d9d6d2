"""The Insight dashboard for editors, reviewers and admins: figures from `bot.insight`, drawn here.

Charts are inline SVG or CSS bars computed on the server (no script, nothing from another site),
each with a table for screen readers. Counts a person could be picked out by are hidden as "<5"
and drawn at one fixed, hatched height, so neither the text nor the picture gives them away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.db.models import utcnow
from bot.insight import PERIODS, SMALL, dashboard, period, shown
from bot.web.deps import WebDeps, page, signed_in

WIDTH, HEIGHT = 900, 180  # the SVG's own units; it scales to the page's width
LEFT, RIGHT, TOP, BOTTOM = 40, 24, 8, 22


@dataclass(frozen=True)
class Bar:
    """One day's bar in SVG units; `hidden` when its count is shown as "<5"."""

    x: float
    y: float
    width: float
    height: float
    title: str
    hidden: bool = False


@dataclass(frozen=True)
class Mark:
    """A labelled position on an axis, in SVG units."""

    at: float
    text: str


@dataclass(frozen=True)
class DayChart:
    """A bar per day, with an optional darker bar inside each (say, people among messages)."""

    bars: list[Bar]
    inner: list[Bar]
    days: list[Mark]
    levels: list[Mark]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT  # where the plot ends


def day_chart(
    days: Sequence[date],
    values: Sequence[int],
    titles: Sequence[str],
    *,
    inner: Sequence[int] = (),
    protect: bool = False,
) -> DayChart:
    """Lay out a bar chart of one value per day; with `protect`, 1-4 are drawn as if 5."""

    def drawn(value: int) -> int:
        return SMALL if protect and 0 < value < SMALL else value

    top = nice_ceiling(max([drawn(v) for v in values] + [SMALL if protect else 1]))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(days), 1)
    gap = min(step * 0.2, 4)

    def bar(i: int, value: int, title: str, narrow: float = 0) -> Bar:
        height = plot_height * drawn(value) / top
        x = LEFT + i * step + gap / 2 + narrow
        hidden = protect and 0 < value < SMALL
        return Bar(x, TOP + plot_height - height, step - gap - 2 * narrow, height, title, hidden)

    bars = [bar(i, v, t) for i, (v, t) in enumerate(zip(values, titles, strict=True))]
    inside = [bar(i, v, titles[i], (step - gap) * 0.2) for i, v in enumerate(inner)]
    every = 1 if len(days) <= 10 else 7 if len(days) <= 45 else 14
    labels = [
        Mark(LEFT + (i + 0.5) * step, d.strftime("%d %b"))
        for i, d in enumerate(days)
        if (len(days) - 1 - i) % every == 0
    ]
    levels = [Mark(TOP + plot_height * (1 - f), f"{round(top * f):,}") for f in (0, 0.5, 1)]
    return DayChart(bars, inside, labels, levels)


def nice_ceiling(value: int) -> int:
    """A round top for a chart's axis, at or above `value`, whose half is a whole number too.

    An even number up to 10; above, 1, 2, 3, 4, 5, 6 or 8 times a power of ten (20, 30... 800).
    """
    if value <= 10:
        return max(2, value + value % 2)
    scale = int(10 ** (len(str(value)) - 1))
    return next(m * scale for m in (1, 2, 3, 4, 5, 6, 8, 10) if m * scale >= value)


def duration(value: timedelta | None) -> str:
    """A wait or handling time in words: "45 s", "3.5 min", "1 h 20 min", "2 d 4 h"."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return f"{seconds / 60:.1f}".removesuffix(".0") + " min"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def insight_routes(deps: WebDeps) -> list[Route]:
    """The Insight page."""

    async def insight(request: Request) -> Response:
        days = period(request.query_params.get("days"))
        async with deps.sessions() as session:
            await signed_in(session, request, "editor", "reviewer")
            board = await dashboard(session=session, days=days, now=utcnow())
        dates = [m.day for m in board.messages]
        messages = day_chart(
            dates,
            [m.messages for m in board.messages],
            [
                f"{m.day:%a %d %b}: {m.messages:,} messages from {m.users:,} people"
                for m in board.messages
            ],
            inner=[m.users for m in board.messages],
        )
        crisis = day_chart(
            dates,
            [d.count for d in board.crisis.per_day],
            [f"{d.day:%a %d %b}: {d.shown} crisis cases" for d in board.crisis.per_day],
            protect=True,
        )
        return page(
            deps,
            request,
            "insight.html",
            board=board,
            periods=PERIODS,
            small=SMALL,
            charts={"messages": messages, "crisis": crisis},
            duration=duration,
            shown=shown,
        )

    return [Route("/insight", insight)]
