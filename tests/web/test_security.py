"""Sessions, CSRF and role checks, on a tiny Starlette app of the test's own.

The app is driven in-process through httpx's ASGI transport (Starlette's TestClient now asks for
`httpx2` and warns when given httpx).
"""

from __future__ import annotations

import json
from base64 import b64decode
from collections.abc import AsyncIterator

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.db.models import WebUserDB
from bot.web.security import (
    SESSION_COOKIE,
    check_csrf,
    csrf_token,
    login,
    logout,
    require,
    session_key,
    session_middleware,
)

SECRET = "test-secret-0123456789abcdef"


def make_app(*, https_only: bool = False) -> Starlette:
    async def form(request: Request) -> Response:
        return PlainTextResponse(csrf_token(request))

    async def submit(request: Request) -> Response:
        await check_csrf(request)
        return PlainTextResponse("done")

    async def editors(request: Request) -> Response:
        return PlainTextResponse(str(require(request, "editor", "reviewer")))

    async def anyone(request: Request) -> Response:
        return PlainTextResponse(str(require(request)))

    async def sign_in(request: Request) -> Response:
        data = await request.form()
        user = WebUserDB(id=int(str(data["id"])), username="amina", role=str(data["role"]))
        login(request, user)
        return PlainTextResponse("signed in")

    async def sign_out(request: Request) -> Response:
        logout(request)
        return PlainTextResponse("signed out")

    async def plant(request: Request) -> Response:
        request.session["planted"] = "by someone else"
        return PlainTextResponse("planted")

    async def peek(request: Request) -> Response:
        return JSONResponse(dict(request.session))

    routes = [
        Route("/form", form),
        Route("/submit", submit, methods=["POST"]),
        Route("/editors", editors),
        Route("/anyone", anyone),
        Route("/login", sign_in, methods=["POST"]),
        Route("/logout", sign_out, methods=["POST"]),
        Route("/plant", plant),
        Route("/peek", peek),
    ]
    return Starlette(routes=routes, middleware=[session_middleware(SECRET, https_only=https_only)])


def connect(app: Starlette, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with connect(make_app()) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, role: str, user_id: int = 7) -> None:
    response = await client.post("/login", data={"id": str(user_id), "role": role})
    assert response.status_code == 200


async def test_a_form_without_a_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.post("/submit", data={"x": "1"})).status_code == 403
    await csrf_token_of(client)
    assert (await client.post("/submit", data={"x": "1"})).status_code == 403
    assert (await client.post("/submit", data={"csrf_token": ""})).status_code == 403


async def test_a_wrong_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    token = await csrf_token_of(client)
    assert (await client.post("/submit", data={"csrf_token": token[:-1] + "x"})).status_code == 403
    assert (await client.post("/submit", data={"csrf_token": "é" + token})).status_code == 403
    assert (await client.post("/submit", headers={"X-CSRF-Token": "nope"})).status_code == 403
    async with connect(make_app()) as other:
        response = await other.post("/submit", data={"csrf_token": token})
        assert response.status_code == 403, "not its session"


async def test_the_right_csrf_token_passes_in_the_form_or_the_header(
    client: httpx.AsyncClient,
) -> None:
    token = await csrf_token_of(client)
    assert (await client.get("/form")).text == token, "one token per session"
    done = await client.post("/submit", data={"csrf_token": token})
    assert (done.status_code, done.text) == (200, "done")
    assert (await client.post("/submit", headers={"X-CSRF-Token": token})).status_code == 200


async def test_anonymous_visitors_are_sent_to_login(client: httpx.AsyncClient) -> None:
    for page in ("/editors", "/anyone"):
        response = await client.get(page)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


async def test_a_wrong_role_gets_403_and_the_right_ones_get_their_id(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "counsellor")
    assert (await client.get("/editors")).status_code == 403
    assert (await client.get("/anyone")).text == "7"
    for role in ("editor", "reviewer", "admin"):
        await sign_in(client, role, user_id=8)
        response = await client.get("/editors")
        assert (response.status_code, response.text) == (200, "8"), role


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_in(client, "admin")
    assert (await client.post("/logout")).status_code == 200
    assert (await client.get("/anyone")).status_code == 303
    assert (await client.get("/peek")).json() == {}


async def test_login_starts_a_fresh_session(client: httpx.AsyncClient) -> None:
    old_token = await csrf_token_of(client)
    await client.get("/plant")
    await sign_in(client, "editor")
    session = (await client.get("/peek")).json()
    assert "planted" not in session, "nothing from before the login survives"
    assert session["user_id"] == 7 and session["role"] == "editor"
    assert session["username"] == "amina"
    assert session["csrf"] != old_token, "a new CSRF token with the new session"
    assert (await client.post("/submit", data={"csrf_token": old_token})).status_code == 403


async def test_the_session_cookie_is_httponly_strict_and_eight_hours(
    client: httpx.AsyncClient,
) -> None:
    cookie = (await client.get("/form")).headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "max-age=28800" in attributes and "path=/" in attributes
    assert "secure" not in attributes
    async with connect(make_app(https_only=True), "https://testserver") as secure:
        cookie = (await secure.get("/form")).headers["set-cookie"]
        assert "secure" in cookie.lower().split("; ")


async def test_the_cookie_is_signed_with_a_key_derived_from_the_secret(
    client: httpx.AsyncClient,
) -> None:
    value = (await client.get("/form")).headers["set-cookie"].split(";")[0].split("=", 1)[1]
    key = session_key(SECRET)
    assert key != SECRET and key == session_key(SECRET) and key != session_key(SECRET + "x")
    with pytest.raises(itsdangerous.BadSignature):
        itsdangerous.TimestampSigner(SECRET).unsign(value)
    payload = itsdangerous.TimestampSigner(key).unsign(value)
    assert "csrf" in json.loads(b64decode(payload))


async def csrf_token_of(client: httpx.AsyncClient) -> str:
    response = await client.get("/form")
    assert response.status_code == 200
    return response.text
