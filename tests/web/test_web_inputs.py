"""What the web app accepts: ids in paths, text without NUL, bodies under the limit, poll cursors.

The end-to-end refusals are in `test_hostile_requests`; these pin the pieces down, and check on
PostgreSQL that text with a NUL byte from every form (and the web chat) is stored without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Route

from bot.cases import repository as cases
from bot.content import revisions
from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import ContentRevisionDB, UserDB
from bot.db.session import create_engine, session_factory
from bot.dialogue.counsellor import STATE_WITH
from bot.web.chat import CHAT_COOKIE, MAX_ACKS, acks_of, csrf_for, user_id
from bot.web.chat_session import sign
from bot.web.inputs import has_control_characters, printable, use_database_ids, web_text
from bot.web.limits import BodyLimit
from nlu.embedded import EmbeddedParser
from tests.conftest import SECRET
from tests.web.test_authorisation_matrix import (
    CHAT_TOKENS,
    ITEM,
    MY_CASE,
    SUBMITTED,
    Seeded,
    connect,
    seed,
    sign_in_everyone,
    signed_in_as,
    whole_app,
)
from tests.web.test_content_pages import edit

# ids in paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "case_id"),
    [
        ("/cases/1", 1),
        ("/cases/007", 7),
        ("/cases/999999999", 999_999_999),
        ("/cases/1000000000", None),  # 10 digits: could be over 2^31 - 1
        (f"/cases/{2**31}", None),
        ("/cases/" + "9" * 30, None),
        ("/cases/\u0663", None),  # an Arabic-Indic digit three: not ASCII
        ("/cases/-1", None),
        ("/cases/", None),
    ],
)
def test_a_database_id_in_a_path_has_one_to_nine_ascii_digits(
    path: str, case_id: int | None
) -> None:
    use_database_ids()
    route = Route("/cases/{case_id:id}", PlainTextResponse)
    match, child = route.matches({"type": "http", "path": path, "method": "GET"})
    if case_id is None:
        assert match is Match.NONE
    else:
        assert match is Match.FULL and child["path_params"] == {"case_id": case_id}


def test_no_link_is_made_to_an_id_no_path_can_name() -> None:
    use_database_ids()
    route = Route("/cases/{case_id:id}", PlainTextResponse, name="case")
    assert route.url_path_for("case", case_id=42) == "/cases/42"
    with pytest.raises(ValueError, match="not a database id"):
        route.url_path_for("case", case_id=2**31)


# text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("I am here.", "I am here."),
        ("I am\x00 here.\x00", "I am here."),
        ("two\nlines\twith a tab", "two\nlines\twith a tab"),  # only NUL goes
        (None, ""),
        (42, ""),
    ],
)
def test_web_text_is_text_without_nul(value: object, text: str) -> None:
    assert web_text(value) == text


@pytest.mark.parametrize(
    ("typed", "control", "shown"),
    [
        ("amina", False, "amina"),
        ("admin\x00", True, "admin\ufffd"),
        ("counsellor\x1f", True, "counsellor\ufffd"),  # str.strip() would remove this one
        ("\tadmin", True, "\ufffdadmin"),
        ("admin\x9b", True, "admin\ufffd"),
        ("jos\u00e9", False, "jos\u00e9"),
    ],
)
def test_a_username_with_a_control_character_is_spotted_and_shown_safely(
    typed: str, control: bool, shown: str
) -> None:
    assert has_control_characters(typed) is control
    assert printable(typed) == shown


# the body limit ---------------------------------------------------------------------------------

LIMIT = 1000


class Streamed:
    """`total` bytes in chunks of `size`, counting how many the server took."""

    def __init__(self, total: int, size: int = 100) -> None:
        self.total, self.size, self.sent = total, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            part = b"x" * min(self.size, self.total - self.sent)
            self.sent += len(part)
            yield part


def limited_app() -> Starlette:
    async def echo(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    return Starlette(routes=[Route("/", echo, methods=["POST"])])


async def post(body: bytes | Streamed, headers: dict[str, str] | None = None) -> httpx.Response:
    app = BodyLimit(limited_app(), limit=LIMIT)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/", content=body, headers=headers)


@pytest.mark.parametrize("size", [0, 1, LIMIT])
async def test_a_body_up_to_the_limit_reaches_the_app_whole(size: int) -> None:
    response = await post(b"x" * size)
    assert (response.status_code, response.text) == (200, str(size))
    streamed = await post(Streamed(size))
    assert (streamed.status_code, streamed.text) == (200, str(size))


async def test_a_body_over_the_limit_is_413_after_reading_at_most_one_chunk_more() -> None:
    assert (await post(b"x" * (LIMIT + 1))).status_code == 413
    body = Streamed(100 * LIMIT)
    response = await post(body)  # no Content-Length
    assert response.status_code == 413
    assert body.sent <= LIMIT + body.size


async def test_a_content_length_that_lies_does_not_lift_the_limit() -> None:
    body = Streamed(10 * LIMIT)
    response = await post(body, headers={"Content-Length": "10"})
    assert response.status_code == 413
    assert body.sent <= LIMIT + body.size


# the web chat's acknowledgements ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("17", {17}),
        ("3,1,3", {1, 3}),
        (str(2**31 - 1), {2**31 - 1}),
        (str(2**31), set()),  # over the id column: not an id
        ("9" * 5000, set()),  # int() would refuse over 4300 digits
        ("0,-1,1e9", set()),
        ("\u00b2", set()),  # "²".isdigit(), but int("²") fails
        ("\u0663", set()),  # int("٣") == 3, but only ASCII digits are an id
        (",".join(str(i) for i in range(1, 200)), set(range(1, MAX_ACKS + 1))),
        ("", set()),
        (None, set()),
    ],
)
def test_poll_acknowledgements_are_bounded_ids(value: str | None, ids: set[int]) -> None:
    assert acks_of(value) == ids


# NUL on PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_on_postgresql_nul_in_every_form_and_the_web_chat_is_dropped_not_a_500(
    postgres_url: str, content: ContentStore, parser: EmbeddedParser
) -> None:
    """PostgreSQL text cannot hold NUL: a reply, a note, a content edit, a reviewer's comment and
    a web chat message with one are stored without it."""
    await upgrade(postgres_url)
    await seed(postgres_url, content)
    cookies, tokens = await sign_in_everyone(postgres_url)
    seeded = Seeded(Path(), cookies, tokens)
    db = create_engine(postgres_url)
    sessions = session_factory(db)
    try:
        app = await whole_app(sessions, content, parser)
        got: dict[str, int] = {}
        async with signed_in_as(app, seeded, "counsellor", raise_app_exceptions=False) as staff:
            for action, text in (("reply", "I am\x00 here."), ("note", "a\x00 careful note")):
                data = {"csrf_token": tokens["counsellor"], "text": text}
                got[action] = (
                    await staff.post(f"/cases/{MY_CASE}/{action}", data=data)
                ).status_code
        async with signed_in_as(app, seeded, "editor", raise_app_exceptions=False) as editor:
            answer = "PrEP is a daily\x00 pill. Ask at any clinic."
            got["edit"] = (await edit(editor, ITEM, "save", answer_en=answer)).status_code
        async with signed_in_as(app, seeded, "reviewer", raise_app_exceptions=False) as reviewer:
            data = {"csrf_token": tokens["reviewer"], "comment": "Please\x00 cite the source."}
            path = f"/review/{ITEM}/{SUBMITTED}/return"
            got["return"] = (await reviewer.post(path, data=data)).status_code
        token = CHAT_TOKENS[MY_CASE]
        async with sessions() as session, session.begin():  # as when the desk takes the case
            young = await session.get(UserDB, user_id(SECRET, token))
            assert young is not None
            young.state = STATE_WITH
        async with connect(app, raise_app_exceptions=False) as chat:
            cookie = sign(SECRET, token)
            chat.cookies.set(CHAT_COOKIE, cookie, domain="testserver.local", path="/chat")
            headers = {"X-CSRF-Token": csrf_for(SECRET, token)}
            body = {"text": "thank\x00 you"}
            got["chat"] = (await chat.post("/chat/send", json=body, headers=headers)).status_code

        assert got == {"reply": 303, "note": 303, "edit": 303, "return": 303, "chat": 200}
        async with sessions() as session:
            said = [m.text for m in await cases.transcript(session=session, case_id=MY_CASE)]
            notes = [n.text for n in await cases.notes(session=session, case_id=MY_CASE)]
            returned = await revisions.revision(session, ITEM, SUBMITTED)
            drafts = await session.scalars(
                select(ContentRevisionDB).where(ContentRevisionDB.author == "editor")
            )
            answers = [row.body["answer"]["en"] for row in drafts]
        assert "I am here." in said and "thank you" in said
        assert "a careful note" in notes
        assert returned is not None and returned.comment == "Please cite the source."
        assert [a.strip() for a in answers] == ["PrEP is a daily pill. Ask at any clinic."]
    finally:
        await db.dispose()
