"""The Rasa client and the fallback to the embedded parser, against scripted HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from nlu.embedded import EmbeddedParser
from nlu.parser import ParserUnavailable
from nlu.rasa import FallbackParser, RasaParser, result_from_rasa

RASA_BODY = {
    "text": "where can I get PrEP in Kisumu",
    "intent": {"name": "find_service", "confidence": 0.93},
    "intent_ranking": [
        {"name": "find_service", "confidence": 0.93},
        {"name": "hiv_prep", "confidence": 0.05},
    ],
    "entities": [
        {
            "entity": "service",
            "value": "prep",
            "start": 16,
            "end": 20,
            "extractor": "RegexEntityExtractor",
        },
        {
            "entity": "location",
            "value": "Kisumu",
            "start": 24,
            "end": 30,
            "extractor": "DIETClassifier",
        },
    ],
}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> RasaParser:
    transport = httpx.MockTransport(handler)
    return RasaParser("http://rasa.test", client=httpx.AsyncClient(transport=transport))


async def test_a_rasa_answer_is_mapped_onto_the_contract() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/model/parse"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=RASA_BODY)

    parser = client(handler)
    result = (await parser.parse("where can I get PrEP in Kisumu")).to_dict()
    await parser.close()
    assert seen == [{"text": "where can I get PrEP in Kisumu"}]
    assert result["intent"] == {"name": "find_service", "confidence": 0.93}
    assert [e["entity"] for e in result["entities"]] == ["service", "location"]
    assert result["language"] == "en" and result["crisis"] == {
        "detected": False,
        "category": None,
        "level": None,
    }


def test_rasas_fallback_intent_is_dropped_so_the_engine_decides() -> None:
    body = {
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.3},
            {"name": "hiv_prep", "confidence": 0.21},
            {"name": "hiv_pep", "confidence": 0.2},
        ],
    }
    result = result_from_rasa("prep au pep", body)
    assert result.intent.name == "hiv_prep" and result.intent.confidence == pytest.approx(0.21)


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(500, text="boom"),
        lambda r: httpx.Response(200, text="<html>not json</html>"),
        lambda r: httpx.Response(200, json={"intent": {"name": "x", "confidence": 7}}),
        lambda r: httpx.Response(200, json={"unexpected": True}),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
    ],
)
async def test_down_slow_or_garbage_is_parser_unavailable(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    parser = client(answer)
    with pytest.raises(ParserUnavailable):
        await parser.parse("hello")
    await parser.close()


async def test_the_fallback_answers_and_logs_once_per_outage(
    parser: EmbeddedParser, caplog: pytest.LogCaptureFixture
) -> None:
    up = {"value": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if not up["value"]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={**RASA_BODY, "text": "x"})

    fallback = FallbackParser(client(handler), parser)
    first = await fallback.parse("how do i get tested for hiv")
    second = await fallback.parse("what is prep")
    assert (first.intent.name, second.intent.name) == ("hiv_testing", "hiv_prep")
    assert fallback.fallbacks == 2
    assert caplog.text.count("Rasa unavailable") == 1
    up["value"] = True
    assert (await fallback.parse("where can I get PrEP in Kisumu")).intent.name == "find_service"
    assert "answering again" in caplog.text
    assert "tested for hiv" not in caplog.text, "no message text in the logs"
    await fallback.close()


async def test_a_crisis_the_rasa_model_misses_is_still_detected(parser: EmbeddedParser) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "intent": {"name": "greet", "confidence": 0.9},
                "intent_ranking": [{"name": "greet", "confidence": 0.9}],
            },
        )

    fallback = FallbackParser(client(handler), parser)
    result = await fallback.parse("nataka kujiua")
    assert result.crisis.detected and result.crisis.category == "suicide"
    await fallback.close()


async def test_the_client_sends_the_auth_token_as_rasa_takes_it() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "nlu.tar.gz"})
        return httpx.Response(200, json=RASA_BODY)

    transport = httpx.MockTransport(handler)
    parser = RasaParser(
        "http://rasa.test", token="t0ken-t0ken-t0ken", client=httpx.AsyncClient(transport=transport)
    )
    await parser.parse("where can I get PrEP in Kisumu")
    assert await parser.reachable()
    await parser.close()
    assert [url.params.get("token") for url in seen] == ["t0ken-t0ken-t0ken"] * 2


async def test_a_refused_token_makes_the_parser_unavailable() -> None:
    parser = client(lambda _request: httpx.Response(401, json={"reason": "NotAuthenticated"}))
    with pytest.raises(ParserUnavailable, match="401"):
        await parser.parse("hello")
    assert not await parser.reachable()
    await parser.close()
