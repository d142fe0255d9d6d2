"""Reviewing content in the console: the review queue, approve or return, history and rollback.

Also the pieces the edit pages share: the live content (refreshed before each page), previews
rendered exactly as the bot renders them, and the training examples of every intent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot import paths
from bot.content import revisions
from bot.content.checks import Problem, check_revision
from bot.content.diff import FieldDiff, changed_fields, diff_bodies, label
from bot.content.live import LiveContent, overlay
from bot.content.render import Format, Renderer
from bot.content.store import ContentStore
from bot.content.validate import ANSWER_LIMIT, MORE_LIMIT
from bot.db.models import ContentRevisionDB, WebUserDB
from bot.web.accounts import audit, user_by_id
from bot.web.deps import WebDeps, page, signed_in
from bot.web.inputs import web_text
from bot.web.sanitise import sanitise
from bot.web.security import check_csrf, require
from nlu.examples import raw_examples

EDITING = ("editor", "reviewer")
REVIEWING = ("reviewer",)
CONFIRM_ROLLBACK = (
    "return confirm('Publish this revision again? Young people will see it at once.')"
)
# Previews show editors' text: even if something slipped through, no script but the one
# confirmation above may run, and nothing may load from elsewhere.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; script-src 'unsafe-hashes' 'sha256-"
    + base64.b64encode(hashlib.sha256(CONFIRM_ROLLBACK.encode()).digest()).decode()
    + "'"
)


# shared with the edit pages ---------------------------------------------------------------------


def content_page(
    deps: WebDeps, request: Request, name: str, status: int = 200, **values: Any
) -> Response:
    """A console page (`deps.page`) under a strict Content-Security-Policy."""
    response = page(deps, request, name, status, confirm_rollback=CONFIRM_ROLLBACK, **values)
    response.headers["Content-Security-Policy"] = _CSP
    return response


async def staff(session: AsyncSession, request: Request, *roles: str) -> WebUserDB:
    """The signed-in account, if its role is one of `roles` (admins pass)."""
    user = await user_by_id(session=session, user_id=await signed_in(session, request, *roles))
    if user is None:  # signed_in has just read it
        raise HTTPException(303, headers={"Location": "/login"})
    return user


async def live_content(deps: WebDeps) -> LiveContent:
    """The content this process serves, reloaded if something was published elsewhere."""
    if deps.live is None:
        raise HTTPException(503, "Content editing is not available in this process.")
    await deps.live.refresh()
    return deps.live


def kind_of(live: LiveContent, item: str) -> str:
    """`topic` or `conversation`; 404 unless the item is in the published content."""
    if item in live.store.topics:
        return "topic"
    if item in live.store.conversation:
        return "conversation"
    raise HTTPException(404, "There is no content item with that name.")


@cache
def _file_examples() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in raw_examples(paths.NLU_DATA_DIR).items()}


def file_examples(item: str) -> list[str]:
    """The examples of one intent in nlu/data (read once per process)."""
    return list(_file_examples().get(item, ()))


def _all_examples(published: Mapping[str, ContentRevisionDB]) -> dict[str, Sequence[str]]:
    """Every intent's current examples: the published revision's, else the files'."""
    current: dict[str, Sequence[str]] = dict(_file_examples())
    for item, row in published.items():
        examples = revisions.examples_of(row.body)
        if examples:
            current[item] = examples
    return current


async def problems_of(
    live: LiveContent,
    item: str,
    kind: str,
    body: Mapping[str, Any],
    current: Mapping[str, ContentRevisionDB],
) -> list[Problem]:
    """`check_revision` on the published content, in a worker thread (it renders templates)."""
    examples = _all_examples(current)
    return await asyncio.to_thread(check_revision, live.store, item, kind, body, examples=examples)


def candidate(
    store: ContentStore, item: str, kind: str, body: Mapping[str, Any]
) -> ContentStore | None:
    """The published store with `body` in place of the item; None when the body does not load."""
    try:
        revisions.item_of(kind, body)
    except ValidationError:
        return None
    return overlay(store, {item: (kind, body)})


@dataclass(frozen=True)
class Bubble:
    """One message as the bot would send it: Telegram HTML (sanitised), plain text, its length."""

    label: str
    html: Markup
    plain: str
    count: int | None = None
    limit: int | None = None
    error: str = ""


@dataclass(frozen=True)
class Preview:
    """The messages of one item in one language."""

    language: str
    bubbles: list[Bubble]


def previews(store: ContentStore | None, item: str) -> list[Preview]:
    """The item's messages in English and Kiswahili, rendered as the bot renders them."""
    if store is None:
        return []
    renderer = Renderer(store)
    return [
        Preview(name, _bubbles(store, renderer, item, language))
        for language, name in (("en", "English"), ("sw", "Kiswahili"))
    ]


def _bubbles(store: ContentStore, renderer: Renderer, item: str, language: str) -> list[Bubble]:
    topic = store.topics.get(item)
    if topic is not None:
        answer, more = topic.answer.get(language), topic.more.get(language)
        return [
            _bubble(
                "Answer",
                lambda fmt: renderer.answer(fmt, item, language),
                lambda: renderer.text(answer, language),
                ANSWER_LIMIT,
            ),
            _bubble(
                "Tell me more",
                lambda fmt: renderer.more(fmt, item, language),
                lambda: renderer.text(more, language),
                MORE_LIMIT,
            ),
        ]
    source = store.conversation[item].answer.get(language)
    return [
        _bubble(
            "Reply",
            lambda fmt: renderer.message(fmt, renderer.text(source, language)),
            lambda: renderer.text(source, language),
            None,
        )
    ]


def _bubble(
    name: str, render: Callable[[Format], str], text: Callable[[], str], limit: int | None
) -> Bubble:
    try:
        count = len(text())
        markup = telegram_html(render("html"))
        plain = render("plain")
    except Exception as exc:  # an editor's template mistake: shown, never a crash
        message = f"This cannot be shown until the text is fixed ({exc.__class__.__name__})."
        return Bubble(name, Markup(""), "", error=message)
    return Bubble(name, markup, plain, count, limit)


def telegram_html(text: str) -> Markup:
    """Telegram HTML made safe to show in the console, with the web chat's allow-list."""
    return Markup(sanitise(text))  # noqa: S704 - rebuilt from escaped parts by the sanitiser


def flash(request: Request, message: str) -> None:
    """A one-time notice on the next page."""
    request.session["flash"] = message[:500]


def target(item: str, number: int) -> str:
    """How the audit log names a revision."""
    return f"content {item} r{number}"


def summary(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """The changed fields, for people: `Answer (English), Training examples`."""
    if old is None:
        return "first revision"
    return ", ".join(label(f) for f in changed_fields(old, new)) or "no change"


# routes -----------------------------------------------------------------------------------------


def review_routes(deps: WebDeps) -> list[Route]:
    """The review queue, one revision under review, history and rollback."""

    async def review_list(request: Request) -> Response:
        async with deps.sessions() as session:
            await staff(session, request, *REVIEWING)
            waiting = await revisions.awaiting_review(session)
            current = await revisions.published(session)
        rows = [
            (r, summary(current[r.item].body if r.item in current else None, r.body))
            for r in waiting
        ]
        return content_page(deps, request, "review_list.html", rows=rows)

    async def review_page(request: Request) -> Response:
        async with deps.sessions() as session:
            it = await _open(deps, session, request, *REVIEWING)
            current = await revisions.published(session)
        now, row = current.get(it.item), it.row
        problems = (
            await problems_of(it.live, it.item, it.kind, row.body, current)
            if row.status == revisions.SUBMITTED
            else []
        )
        return content_page(
            deps,
            request,
            "review.html",
            row=row,
            published=now,
            diffs=diff_bodies(now.body if now else {}, row.body),
            previews=previews(candidate(it.live.store, it.item, it.kind, row.body), it.item),
            problems=problems,
            own=row.author == it.user.username,
        )

    async def approve(request: Request) -> Response:
        require(request, *REVIEWING)
        await check_csrf(request)
        async with deps.sessions() as session, session.begin():
            it = await _open(deps, session, request, *REVIEWING)
            item, number, user, live = it.item, it.number, it.user, it.live
            current = await revisions.published(session)
            problems = await problems_of(live, item, it.kind, it.row.body, current)
            if problems:
                flash(request, "This revision does not pass the checks now: " + problems[0][1])
                return RedirectResponse(f"/review/{item}/{number}", status_code=303)
            changed = summary(current[item].body if item in current else None, it.row.body)
            try:
                await revisions.approve(
                    session, item=item, number=number, reviewer=user.username, today=date.today()
                )
            except revisions.RevisionError as exc:
                flash(request, str(exc))
                return RedirectResponse(f"/review/{item}/{number}", status_code=303)
            await audit(
                session=session,
                actor=user.username,
                action="content.approve",
                target=target(item, number),
                detail=f"published; changed: {changed}",
            )
        await live.refresh(force=True)
        flash(request, f"Published {item} revision {number}: the bot answers with it now.")
        return RedirectResponse("/review", status_code=303)

    async def return_revision(request: Request) -> Response:
        item, number = request.path_params["item"], int(request.path_params["number"])
        require(request, *REVIEWING)
        await check_csrf(request)
        comment = web_text((await request.form()).get("comment"))
        async with deps.sessions() as session, session.begin():
            user = await staff(session, request, *REVIEWING)
            kind_of(await live_content(deps), item)
            try:
                await revisions.return_to_author(
                    session, item=item, number=number, reviewer=user.username, comment=comment
                )
            except revisions.RevisionError as exc:
                flash(request, str(exc))
                return RedirectResponse(f"/review/{item}/{number}", status_code=303)
            await audit(
                session=session,
                actor=user.username,
                action="content.return",
                target=target(item, number),
                detail=comment.strip()[:400],
            )
        flash(request, f"Returned {item} revision {number} to its author with your comment.")
        return RedirectResponse("/review", status_code=303)

    async def history_page(request: Request) -> Response:
        item = request.path_params["item"]
        async with deps.sessions() as session:
            user = await staff(session, request, *EDITING)
            kind_of(await live_content(deps), item)
            rows = _visible(await revisions.history(session, item), user)
        entries = []
        for row in rows:
            before = _before(rows, row.number)
            diffs = diffs_of(before.body if before else None, row.body)
            entries.append((row, before, diffs))
        can_roll_back = user.role in (*REVIEWING, "admin")
        return content_page(
            deps,
            request,
            "content_history.html",
            item=item,
            entries=entries,
            can_roll_back=can_roll_back,
        )

    async def history_revision(request: Request) -> Response:
        async with deps.sessions() as session:
            it = await _open(deps, session, request, *EDITING)
            before = _before(
                _visible(await revisions.history(session, it.item), it.user), it.number
            )
        row = it.row
        return content_page(
            deps,
            request,
            "content_revision.html",
            row=row,
            before=before,
            diffs=diffs_of(before.body if before else None, row.body),
            previews=previews(candidate(it.live.store, it.item, it.kind, row.body), it.item),
            can_roll_back=it.user.role in (*REVIEWING, "admin"),
        )

    async def rollback(request: Request) -> Response:
        require(request, *REVIEWING)
        await check_csrf(request)
        async with deps.sessions() as session, session.begin():
            it = await _open(deps, session, request, *REVIEWING)
            item, number, user, live = it.item, it.number, it.user, it.live
            if candidate(live.store, item, it.kind, it.row.body) is None:
                flash(request, f"Revision {number} no longer loads, so it cannot come back.")
                return RedirectResponse(f"/content/{item}/history", status_code=303)
            try:
                row = await revisions.rollback(
                    session, item=item, number=number, actor=user.username
                )
            except revisions.RevisionError as exc:
                flash(request, str(exc))
                return RedirectResponse(f"/content/{item}/history", status_code=303)
            await audit(
                session=session,
                actor=user.username,
                action="content.rollback",
                target=target(item, row.number),
                detail=f"revision {number} published again",
            )
        await live.refresh(force=True)
        flash(request, f"Revision {number} is published again, as revision {row.number}.")
        return RedirectResponse(f"/content/{item}/history", status_code=303)

    return [
        Route("/review", review_list),
        Route("/review/{item}/{number:id}", review_page),
        Route("/review/{item}/{number:id}/approve", approve, methods=["POST"]),
        Route("/review/{item}/{number:id}/return", return_revision, methods=["POST"]),
        Route("/content/{item}/history", history_page),
        Route("/content/{item}/history/{number:id}", history_revision),
        Route("/content/{item}/history/{number:id}/rollback", rollback, methods=["POST"]),
    ]


@dataclass(frozen=True)
class Opened:
    """The revision a URL names (`/.../{item}/{number}`), who opened it, and the live content."""

    user: WebUserDB
    live: LiveContent
    item: str
    number: int
    kind: str
    row: ContentRevisionDB


async def _open(deps: WebDeps, session: AsyncSession, request: Request, *roles: str) -> Opened:
    """Check the role, reload the content, and find the item (404) and its revision (404)."""
    item, number = request.path_params["item"], int(request.path_params["number"])
    user = await staff(session, request, *roles)
    live = await live_content(deps)
    kind = kind_of(live, item)
    row = await _revision(session, item, number)
    if not revisions.visible_to(row, user.username):  # as if it did not exist
        raise HTTPException(404, "There is no such revision.")
    return Opened(user, live, item, number, kind, row)


def _visible(rows: list[ContentRevisionDB], user: WebUserDB) -> list[ContentRevisionDB]:
    """The revisions this account may open (others' drafts left out), in the same order."""
    return [r for r in rows if revisions.visible_to(r, user.username)]


def _before(rows: list[ContentRevisionDB], number: int) -> ContentRevisionDB | None:
    """The newest of `rows` older than revision `number`: what a diff is made from."""
    return max((r for r in rows if r.number < number), key=lambda r: r.number, default=None)


async def _revision(session: AsyncSession, item: str, number: int) -> ContentRevisionDB:
    row = await revisions.revision(session, item, number)
    if row is None:
        raise HTTPException(404, "There is no such revision.")
    return row


def diffs_of(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[FieldDiff]:
    """The diff shown on a page (nothing for a first revision)."""
    return diff_bodies(old, new) if old is not None else []
