"""Against a real Rasa 3.6 server started from .venv-rasa (`make test` builds it and the model).

These fail, never skip, when Rasa or its model is missing: `make rasa-model` makes both.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.store import ContentStore
from nlu import rasa_tools
from nlu.embedded import EmbeddedParser
from nlu.parser import ParserUnavailable
from nlu.rasa import FallbackParser, RasaParser
from tests.conftest import make_engine
from tests.factories import text

pytestmark = pytest.mark.rasa


# the servers these tests start answer only requests that carry this token
TOKEN = secrets.token_urlsafe(32)
stop = rasa_tools.stop_server


def start_rasa(port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    return rasa_tools.start_server(TOKEN, port)


@pytest.fixture(scope="module")
def rasa_url() -> Iterator[str]:
    process, url = start_rasa()
    yield url
    stop(process)


def test_the_rasa_api_refuses_requests_without_the_token(rasa_url: str) -> None:
    body = {"text": "where can I get PrEP in Kisumu"}
    for params in ({}, {"token": "not-" + TOKEN}):
        parse = httpx.post(f"{rasa_url}/model/parse", json=body, params=params, timeout=10)
        status = httpx.get(f"{rasa_url}/status", params=params, timeout=10)
        assert (parse.status_code, status.status_code) == (401, 401), params
    # replacing the model is what an open API would let anyone on the network do
    put = httpx.put(f"{rasa_url}/model", json={"model_file": "/tmp/x.tar.gz"}, timeout=10)
    assert put.status_code == 401
    accepted = httpx.post(f"{rasa_url}/model/parse", json=body, params={"token": TOKEN}, timeout=10)
    assert accepted.is_success


async def test_the_client_without_the_token_is_refused(rasa_url: str) -> None:
    parser = RasaParser(rasa_url, timeout=10)
    try:
        with pytest.raises(ParserUnavailable, match="401"):
            await parser.parse("what is prep")
        assert not await parser.reachable()
    finally:
        await parser.close()


async def test_the_rasa_server_parses_to_the_contract(rasa_url: str) -> None:
    parser = RasaParser(rasa_url, token=TOKEN, timeout=10)
    assert await parser.reachable()
    try:
        result = await parser.parse("where can I get PrEP in Kisumu")
    finally:
        await parser.close()
    assert result.intent.name == "find_service"
    assert ("service", "prep") in {(e.entity, e.value) for e in result.entities}
    assert ("location", "Kisumu") in {(e.entity, e.value) for e in result.entities}


async def test_the_bot_answers_through_rasa(
    rasa_url: str,
    parser: EmbeddedParser,
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
) -> None:
    backend = FallbackParser(RasaParser(rasa_url, token=TOKEN, timeout=10), parser)
    engine = make_engine(sessions, backend, content)
    try:
        [answer] = await engine.handle(text("how do i get tested for hiv"))
        [swahili] = await engine.handle(text("nataka kutumia kondomu vizuri", user="c" * 64))
    finally:
        await backend.close()
    assert "Getting tested for HIV" in answer.text
    assert "Kondomu" in swahili.text or "kondomu" in swahili.text
    assert backend.fallbacks == 0


async def test_the_bot_keeps_answering_when_rasa_stops_mid_conversation(
    parser: EmbeddedParser,
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
) -> None:
    process, url = start_rasa()
    backend = FallbackParser(RasaParser(url, token=TOKEN, timeout=2), parser)
    engine = make_engine(sessions, backend, content)
    try:
        [before] = await engine.handle(text("what is prep"))
        assert backend.fallbacks == 0 and "PrEP" in before.text
        stop(process)
        [after] = await engine.handle(text("how do i get tested for hiv"))
        assert "Getting tested for HIV" in after.text
        assert backend.fallbacks == 1
    finally:
        if process.poll() is None:
            stop(process)
        await backend.close()


async def test_rasa_killed_and_restarted_during_traffic_every_message_is_answered(
    parser: EmbeddedParser,
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
) -> None:
    """SIGKILL the server mid-traffic: the embedded parser answers; Rasa answers again after."""
    process, url = start_rasa()
    port = int(url.rsplit(":", 1)[1])
    backend = FallbackParser(RasaParser(url, token=TOKEN, timeout=2), parser)
    engine = make_engine(sessions, backend, content)
    questions = ("what is prep", "how do i get tested for hiv", "how do i use a condom")
    answered: list[int] = []

    async def traffic(rounds: int, tag: str) -> None:
        for n in range(rounds):
            replies = await asyncio.gather(
                *(
                    engine.handle(text(q, user=f"{tag}{n}{i}".ljust(64, "x")))
                    for i, q in enumerate(questions)
                )
            )
            answered.extend(len(r) for r in replies)

    try:
        await traffic(2, "a")
        assert backend.remote > 0 and backend.fallbacks == 0
        process.send_signal(signal.SIGKILL)
        process.wait()
        await traffic(3, "b")  # Rasa is gone: every message still answered
        assert backend.fallbacks == 3 * len(questions)
        process, _ = await asyncio.to_thread(start_rasa, port)
        remote = backend.remote
        await traffic(2, "c")
        assert backend.remote == remote + 2 * len(questions), "Rasa did not take over again"
    finally:
        await backend.close()
        if process.poll() is None:
            stop(process)
    assert len(answered) == 7 * len(questions) and all(n >= 1 for n in answered)
