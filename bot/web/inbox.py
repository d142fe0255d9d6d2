"""The counsellor inbox on the web: the same cases, queue, claims and relay as on Telegram.

Every action goes through the same desk as the Telegram commands, in one transaction, so a case
claimed here cannot be claimed on Telegram and the other way round. Replies meant for the young
person are delivered through the Bot API; the counsellor's own lines become the page's notice.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.cases import repository as cases
from bot.db.models import CaseDB, utcnow
from bot.web.accounts import audit, counsellor_of, user_by_id
from bot.web.deps import WebDeps, page, signed_in
from bot.web.inputs import web_text
from bot.web.security import check_csrf, require

EXPIRED_SHOWN_FOR = timedelta(hours=24)  # the inbox lists cases that expired unanswered this long


def inbox_routes(deps: WebDeps) -> list[Route]:
    """The inbox pages and actions."""

    async def inbox(request: Request) -> Response:
        async with deps.sessions() as session:
            user_id = await signed_in(session, request, "counsellor")
            counsellor = await counsellor_of(session=session, user_id=user_id)
            waiting = await cases.waiting_cases(session=session)
            cards = [
                {"id": c.id, "priority": c.priority, "text": await deps.desk.card(session, c)}
                for c in waiting
            ]
            active = (
                await cases.active_case_of_counsellor(session=session, counsellor_id=counsellor.id)
                if counsellor is not None
                else None
            )
            expired = await cases.recently_expired(
                session=session, since=utcnow() - EXPIRED_SHOWN_FOR
            )
        return page(
            deps,
            request,
            "inbox.html",
            counsellor=counsellor,
            cards=cards,
            active=active,
            expired=expired,
        )

    async def case_page(request: Request) -> Response:
        case_id = _case_id(request)
        async with deps.sessions() as session:
            user_id = await signed_in(session, request, "counsellor")
            case, mine = await _visible_case(session, user_id, case_id)
            card = await deps.desk.card(session, case)
            messages = await cases.transcript(session=session, case_id=case.id) if mine else []
            notes = await cases.notes(session=session, case_id=case.id) if mine else []
        return page(
            deps,
            request,
            "case.html",
            case=case,
            card=card,
            mine=mine,
            messages=messages,
            notes=notes,
        )

    async def case_messages(request: Request) -> Response:
        async with deps.sessions() as session:
            user_id = await signed_in(session, request, "counsellor")
            case, mine = await _visible_case(session, user_id, _case_id(request))
            messages = await cases.transcript(session=session, case_id=case.id) if mine else []
        return deps.templates.TemplateResponse(request, "messages.html", {"messages": messages})

    def action(
        command: str, field: str = "", *, to_case: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST that runs one desk command for the logged-in counsellor."""

        async def run(request: Request) -> Response:
            require(request, "counsellor")
            await check_csrf(request)
            form = await request.form()
            argument = web_text(form.get(field)) if field else ""
            case_id = _case_id(request) if to_case else None
            if command == "take":
                argument = str(case_id)
            return await _run(deps, request, command, argument, case_id)

        return run

    return [
        Route("/inbox", inbox),
        Route("/inbox/duty", action("duty", "on", to_case=False), methods=["POST"]),
        Route("/inbox/next", action("next", to_case=False), methods=["POST"]),
        Route("/cases/{case_id:id}", case_page),
        Route("/cases/{case_id:id}/messages", case_messages),
        Route("/cases/{case_id:id}/claim", action("take"), methods=["POST"]),
        Route("/cases/{case_id:id}/reply", action("", "text"), methods=["POST"]),
        Route("/cases/{case_id:id}/note", action("note", "text"), methods=["POST"]),
        Route("/cases/{case_id:id}/transfer", action("transfer"), methods=["POST"]),
        Route("/cases/{case_id:id}/close", action("close", "resolution"), methods=["POST"]),
    ]


async def _run(
    deps: WebDeps, request: Request, command: str, argument: str, case_id: int | None
) -> Response:
    if command == "duty":
        argument = "on" if argument == "1" else "off"
    async with deps.sessions() as session, session.begin():
        user_id = await signed_in(session, request, "counsellor")
        counsellor = await counsellor_of(session=session, user_id=user_id)
        if counsellor is None:
            raise HTTPException(403)
        if case_id is not None and command not in ("take",):
            active = await cases.active_case_of_counsellor(
                session=session, counsellor_id=counsellor.id
            )
            if active is None or active.id != case_id:
                raise HTTPException(403)  # only your own active case
        replies = await deps.desk.counsellor_turn(
            session=session,
            counsellor=counsellor,
            command=command,
            argument=argument,
            text=argument if command == "" else "",
        )
        user = await user_by_id(session=session, user_id=user_id)
        actor = user.username if user is not None else f"web user {user_id}"
        target = f"case {case_id}" if case_id is not None else "inbox"
        await audit(
            session=session, actor=actor, action=f"case.{command or 'reply'}", target=target
        )
    for reply in replies:
        if reply.to:
            await deps.deliver(reply)
    notice = " ".join(html.unescape(r.text) for r in replies if not r.to)
    request.session["flash"] = notice[:500]
    location = f"/cases/{case_id}" if case_id is not None else "/inbox"
    if command in ("close", "transfer"):
        location = "/inbox"
    return RedirectResponse(location, status_code=303)


async def _visible_case(
    session: AsyncSession, web_user_id: int, case_id: int
) -> tuple[CaseDB, bool]:
    """The case and whether its transcript may be shown (only to the counsellor who has it)."""
    case = await session.get(CaseDB, case_id)
    if case is None:
        raise HTTPException(404)
    counsellor = await counsellor_of(session=session, user_id=web_user_id)
    mine = (
        counsellor is not None and case.counsellor_id == counsellor.id and case.status == "active"
    )
    if not mine and case.status != "waiting":
        raise HTTPException(403)
    return case, mine


def _case_id(request: Request) -> int:
    value: Any = request.path_params["case_id"]
    return int(value)
