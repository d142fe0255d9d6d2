"""The Rasa 3.6 backend: `POST {RASA_URL}/model/parse`, with the embedded parser as a safety net."""

from __future__ import annotations

import logging
import math
from typing import Any

import httpx

from nlu.crisis import crisis_from_ranking
from nlu.embedded import EmbeddedParser
from nlu.language import detect_language
from nlu.parser import Entity, IntentScore, ParseResult, ParserUnavailable

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 1.5
# Rasa's FallbackClassifier inserts this; the engine's own threshold decides what is unsure.
FALLBACK_INTENT = "nlu_fallback"


class RasaParser:
    """A client for a running Rasa server (`rasa run --enable-api --auth-token ...`).

    With a token, every request carries it as the `token` query parameter, the way Rasa's HTTP
    API takes it (`/status` and `/model/parse` answer 401 without it). httpx logs request URLs
    only at INFO, which bot/logs.py silences, so the token stays out of the logs.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._endpoint = url.rstrip("/") + "/model/parse"
        self._status = url.rstrip("/") + "/status"
        self._params = {"token": token} if token else {}
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def reachable(self) -> bool:
        """Whether the server answers `/status` with a loaded model (for readiness checks)."""
        try:
            response = await self._client.get(self._status, params=self._params)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    async def parse(self, text: str) -> ParseResult:
        """Parse through the server; ParserUnavailable when it is down, slow or answers garbage."""
        try:
            response = await self._client.post(
                self._endpoint, json={"text": text}, params=self._params
            )
        except httpx.HTTPError as exc:
            raise ParserUnavailable(f"rasa unreachable: {exc.__class__.__name__}") from exc
        if response.status_code != 200:
            raise ParserUnavailable(f"rasa answered HTTP {response.status_code}")
        try:
            return result_from_rasa(text, response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise ParserUnavailable("rasa answered something that is not a parse result") from exc


def result_from_rasa(text: str, body: Any) -> ParseResult:
    """Map Rasa's `/model/parse` JSON onto the contract (language and crisis added here)."""
    ranking = tuple(
        IntentScore(str(item["name"]), _confidence(item["confidence"]))
        for item in body.get("intent_ranking") or [body["intent"]]
        if item["name"] != FALLBACK_INTENT
    )
    if not ranking or not ranking[0].name:
        raise ValueError("no intent")
    entities = tuple(
        Entity(str(e["entity"]), str(e["value"]), int(e["start"]), int(e["end"]))
        for e in body.get("entities", [])
    )
    return ParseResult(
        text=text,
        intent=ranking[0],
        intent_ranking=ranking,
        entities=entities,
        language=detect_language(text),
        crisis=crisis_from_ranking(ranking, "rasa"),
    )


def _confidence(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError("confidence out of range")
    return number


class FallbackParser:
    """Rasa first; the embedded parser when Rasa cannot answer. Crisis never depends on Rasa.

    The crisis signal is the union of both parsers' (the embedded one costs ~0.1 ms), so a Rasa
    model that misses a crisis, or a Rasa outage, cannot hide one.
    """

    def __init__(self, primary: RasaParser, fallback: EmbeddedParser) -> None:
        self._primary = primary
        self._fallback = fallback
        self.fallbacks = 0  # messages the embedded parser answered because Rasa could not
        self.remote = 0  # messages Rasa answered
        self._outage = False

    @property
    def primary(self) -> RasaParser:
        """The Rasa server's client."""
        return self._primary

    @property
    def fallback(self) -> EmbeddedParser:
        """The embedded parser used when Rasa cannot answer."""
        return self._fallback

    async def parse(self, text: str) -> ParseResult:
        """Parse with Rasa, or with the embedded parser for this message if Rasa fails."""
        local = self._fallback.parse_sync(text)
        try:
            remote = await self._primary.parse(text)
        except ParserUnavailable as exc:
            self.fallbacks += 1
            if not self._outage:
                self._outage = True
                log.warning("Rasa unavailable (%s); answering with the embedded parser", exc)
            return local
        self.remote += 1
        if self._outage:
            self._outage = False
            log.warning("Rasa is answering again after %d fallback(s)", self.fallbacks)
        if remote.crisis.detected or not local.crisis.detected:
            return remote
        return ParseResult(
            remote.text,
            remote.intent,
            remote.intent_ranking,
            remote.entities,
            remote.language,
            local.crisis,
        )

    async def close(self) -> None:
        """Close the Rasa client."""
        await self._primary.close()
