"""Editing content in the console: the list of answers, one answer, and its edit form.

An editor's text is checked (`bot.content.checks`) before it is saved or sent for review; problems
are shown beside their fields and the text stays in the form. Editors' template syntax is only
ever rendered by the content renderer's sandbox, for the previews; the console's own templates
treat it as text. Review, history and rollback live in `bot.web.content_review`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.content import revisions
from bot.content.checks import LOCALISED, Problem
from bot.content.live import LiveContent
from bot.content.schema import AREAS, SERVICE_IDS
from bot.db.models import ContentRevisionDB
from bot.web.accounts import audit
from bot.web.content_review import (
    EDITING,
    candidate,
    content_page,
    file_examples,
    flash,
    kind_of,
    live_content,
    previews,
    problems_of,
    review_routes,
    staff,
    summary,
    target,
)
from bot.web.deps import WebDeps
from bot.web.inputs import web_text
from bot.web.security import check_csrf, require
from nlu.examples import clean_examples

ACTIONS = ("preview", "save", "submit")
PENDING = (revisions.DRAFT, revisions.SUBMITTED, revisions.RETURNED)
_LIST = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class Row:
    """One item in the content list."""

    item: str
    area: str
    title: str
    question: str
    revision: int | None
    pending: list[str]
    next_review: date | None
    overdue: bool


def content_routes(deps: WebDeps) -> list[Route]:
    """The content list, item pages and edit form, and the review pages."""

    async def content_list(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[:100]
        area = request.query_params.get("area", "")
        async with deps.sessions() as session:
            await staff(session, request, *EDITING)
            live = await live_content(deps)
            pending = await revisions.pending(session)
        rows = [
            row
            for row in _rows(live, pending, date.today())
            if (not area or row.area == area) and _matches(live, row.item, query)
        ]
        areas = [*AREAS, "conversation"]
        return content_page(
            deps, request, "content_list.html", rows=rows, q=query, area=area, areas=areas
        )

    async def item_page(request: Request) -> Response:
        item = request.path_params["item"]
        async with deps.sessions() as session:
            user = await staff(session, request, *EDITING)
            live = await live_content(deps)
            kind = kind_of(live, item)
            history = await revisions.history(session, item)
        rows = [r for r in history if revisions.visible_to(r, user.username)]
        published = next((r for r in rows if r.status == revisions.PUBLISHED), None)
        return content_page(
            deps,
            request,
            "content_item.html",
            item=item,
            kind=kind,
            topic=live.store.topics.get(item),
            published=published,
            pending=[r for r in rows if r.status in PENDING],
            examples=revisions.examples_of(published.body) if published else file_examples(item),
            previews=previews(live.store, item),
            today=date.today(),
        )

    async def edit_page(request: Request) -> Response:
        item = request.path_params["item"]
        async with deps.sessions() as session:
            user = await staff(session, request, *EDITING)
            live = await live_content(deps)
            kind = kind_of(live, item)
            current = await revisions.published(session)
            start = await _start(session, live, item, kind, user.username, current)
            waiting = await _waiting_of(session, item, user.username)
        values = _form_values(kind, start.body)
        return _form(deps, request, live, item, kind, start.body, values, [], start, waiting)

    async def edit_submit(request: Request) -> Response:
        item = request.path_params["item"]
        require(request, *EDITING)
        await check_csrf(request)
        form = await request.form()
        action = str(form.get("action", "preview"))
        action = action if action in ACTIONS else "preview"
        async with deps.sessions() as session, session.begin():
            user = await staff(session, request, *EDITING)
            live = await live_content(deps)
            kind = kind_of(live, item)
            current = await revisions.published(session)
            start = await _start(session, live, item, kind, user.username, current)
            values = _submitted(kind, form)
            body, problems = _body(kind, item, values, start.body)
            problems += await problems_of(live, item, kind, body, current)
            published = current.get(item)
            if action == "submit" and published is not None and body == published.body:
                problems.append(("", "Nothing is different from the published version yet."))
            if problems or action == "preview":
                waiting = await _waiting_of(session, item, user.username)
                status = 400 if problems and action != "preview" else 200
                return _form(
                    deps, request, live, item, kind, body, values, problems, start, waiting, status
                )
            row = await revisions.save_draft(
                session, item=item, kind=kind, body=body, author=user.username
            )
            if action == "submit":
                await revisions.submit(session, item=item, number=row.number, actor=user.username)
            await audit(
                session=session,
                actor=user.username,
                action="content.submit" if action == "submit" else "content.save",
                target=target(item, row.number),
                detail=f"changed: {summary(published.body if published else None, body)}",
            )
            number = row.number
        if action == "submit":
            flash(request, f"Sent for review as revision {number}. Thank you!")
            return RedirectResponse(f"/content/{item}", status_code=303)
        flash(request, f"Draft saved (revision {number}). Only you see it until you send it.")
        return RedirectResponse(f"/content/{item}/edit", status_code=303)

    return [
        Route("/content", content_list),
        Route("/content/{item}", item_page),
        Route("/content/{item}/edit", edit_page),
        Route("/content/{item}/edit", edit_submit, methods=["POST"]),
        *review_routes(deps),
    ]


# the list ---------------------------------------------------------------------------------------


def _rows(
    live: LiveContent, pending: Mapping[str, list[ContentRevisionDB]], today: date
) -> list[Row]:
    rows = [
        Row(
            intent,
            topic.area,
            topic.title.en,
            topic.question.en,
            live.revisions.get(intent),
            sorted({r.status for r in pending.get(intent, [])}),
            topic.next_review,
            topic.next_review < today,
        )
        for intent, topic in live.store.topics.items()
    ]
    rows.sort(key=lambda r: (AREAS.index(r.area) if r.area in AREAS else len(AREAS), r.item))
    rows += [
        Row(
            intent,
            "conversation",
            reply.answer.en.splitlines()[0][:80] if reply.answer.en else "",
            "",
            live.revisions.get(intent),
            sorted({r.status for r in pending.get(intent, [])}),
            None,
            False,
        )
        for intent, reply in sorted(live.store.conversation.items())
    ]
    return rows


def _matches(live: LiveContent, item: str, query: str) -> bool:
    """Whether the query is in the intent, titles, questions or answers (either language)."""
    if not query:
        return True
    topic = live.store.topics.get(item)
    if topic is not None:
        texts = [getattr(topic, name) for name in LOCALISED]
    else:
        texts = [live.store.conversation[item].answer]
    haystack = " ".join([item, *(t.en for t in texts), *(t.sw for t in texts)])
    return query.casefold() in haystack.casefold()


# the form ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Where the form starts: the editor's open revision, else the published one."""

    body: dict[str, Any]
    draft: ContentRevisionDB | None
    published: ContentRevisionDB | None


async def _start(
    session: AsyncSession,
    live: LiveContent,
    item: str,
    kind: str,
    author: str,
    current: Mapping[str, ContentRevisionDB],
) -> Start:
    draft = await revisions.open_revision(session, item, author)
    published = current.get(item)
    if draft is not None:
        return Start(dict(draft.body), draft, published)
    if published is not None:
        return Start(dict(published.body), None, published)
    store_item = live.store.topics.get(item) or live.store.conversation[item]
    return Start(revisions.body_of(store_item, file_examples(item)), None, None)


async def _waiting_of(session: AsyncSession, item: str, author: str) -> list[int]:
    """The numbers of this author's revisions of the item that wait for review."""
    rows = await revisions.awaiting_review(session)
    return [r.number for r in rows if r.item == item and r.author == author]


def _fields(kind: str) -> list[str]:
    texts = LOCALISED if kind == "topic" else ("answer",)
    names = [f"{name}.{language}" for name in texts for language in ("en", "sw")]
    if kind == "topic":
        names += ["follow_ups", "services", "sources", "next_review"]
    return [*names, "examples"]


def _form_values(kind: str, body: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields, filled from a revision body."""
    values: dict[str, str] = {}
    for name in _fields(kind):
        key, _, language = name.partition(".")
        value = body.get(key)
        if language:
            values[name] = str((value or {}).get(language, ""))
        elif key in ("follow_ups", "services"):
            values[name] = ", ".join(value or [])
        elif key == "sources":
            values[name] = yaml.safe_dump(
                value or [], sort_keys=False, allow_unicode=True, width=10_000
            )
        elif key == "examples":
            values[name] = "\n".join(revisions.examples_of(body))
        else:
            values[name] = str(value or "")
    return values


def _submitted(kind: str, form: FormData) -> dict[str, str]:
    """The form's fields as typed (browsers send CRLF line ends; they become LF)."""
    return {name: web_text(form.get(name)).replace("\r\n", "\n")[:20_000] for name in _fields(kind)}


def _body(
    kind: str, item: str, values: Mapping[str, str], start: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    """A revision body from the form, on top of `start` (which keeps the fields not on the form).

    A valid body is returned in the canonical form the files' import gives it.
    """
    problems: list[Problem] = []
    body: dict[str, Any] = {**start, "intent": item}
    for name in LOCALISED if kind == "topic" else ("answer",):
        texts = dict(start.get(name) or {})
        for language in ("en", "sw"):
            typed = values[f"{name}.{language}"].strip()
            ends_line = str(texts.get(language, "")).endswith("\n") and typed
            texts[language] = typed + "\n" if ends_line else typed
        body[name] = texts
    if kind == "topic":
        body["follow_ups"] = [v for v in _LIST.split(values["follow_ups"]) if v]
        body["services"] = [v for v in _LIST.split(values["services"]) if v]
        body["next_review"] = values["next_review"].strip()
        try:
            body["sources"] = yaml.safe_load(values["sources"]) or []
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            where = f" (line {line + 1})" if isinstance(line, int) else ""
            problems.append(
                (
                    "sources",
                    f"The sources could not be read{where}. Each source is four lines: "
                    "“- title: …”, then “publisher: …”, “year: …” and “url: …”, indented.",
                )
            )
    examples = clean_examples(values["examples"].splitlines())
    body["examples"] = examples
    with suppress(ValidationError):  # check_revision reports it field by field
        body = revisions.body_of(revisions.item_of(kind, body), examples)
    return body, problems


def _form(
    deps: WebDeps,
    request: Request,
    live: LiveContent,
    item: str,
    kind: str,
    body: Mapping[str, Any],
    values: Mapping[str, str],
    problems: list[Problem],
    start: Start,
    waiting: list[int],
    status: int = 200,
) -> Response:
    by_field: dict[str, list[str]] = {}
    for field, message in problems:
        by_field.setdefault(field if field in values else "", []).append(message)
    return content_page(
        deps,
        request,
        "content_edit.html",
        status,
        item=item,
        kind=kind,
        values=values,
        problems=by_field,
        count=len(problems),
        start=start,
        waiting=waiting,
        previews=previews(candidate(live.store, item, kind, body), item),
        helplines=sorted(live.store.helplines),
        services=SERVICE_IDS,
        topics=sorted(live.store.topics),
    )
