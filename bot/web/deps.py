"""What every group of web routes needs, built once by `build_web_app`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.content.live import LiveContent
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Reply
from bot.web.accounts import user_by_id
from bot.web.security import csrf_token, logout, require

Deliver = Callable[[Reply], Awaitable[None]]


@dataclass(frozen=True)
class WebDeps:
    """The database, the desk, the templates, delivery of replies to other chats, and (for the
    content pages and the web chat) the live content and the dialogue engine."""

    sessions: async_sessionmaker[AsyncSession]
    desk: Desk
    templates: Jinja2Templates
    deliver: Deliver
    secret: str = ""
    live: LiveContent | None = None
    dialogue: DialogueEngine | None = None


async def signed_in(session: AsyncSession, request: Request, *roles: str) -> int:
    """The signed-in staff member (admins pass everywhere), checked against the database.

    An account removed, given another role or password, or signed out elsewhere since this
    cookie was made (its session version has moved on) is signed out at once.
    """
    user_id = require(request, *roles)
    user = await user_by_id(session=session, user_id=user_id)
    if (
        user is None
        or user.role != request.session.get("role")
        or user.session_version != request.session.get("version")
    ):
        logout(request)
        raise HTTPException(303, headers={"Location": "/login"})
    return user_id


def page(deps: WebDeps, request: Request, name: str, status: int = 200, **values: Any) -> Response:
    """A console page with the header's context (user, role, CSRF token, one-time flash)."""
    flash = request.session.pop("flash", "")
    context = {
        "username": request.session.get("username", ""),
        "role": request.session.get("role", ""),
        "csrf": csrf_token(request),
        "flash": flash,
        **values,
    }
    return deps.templates.TemplateResponse(request, name, context, status_code=status)
