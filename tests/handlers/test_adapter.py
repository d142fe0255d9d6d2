"""The Telegram adapter: raw updates through `Application.process_update`, a fake BaseRequest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.dialogue.engine import DialogueEngine
from bot.logs import configure_logging
from handlers.translate import command_name
from tests.fakes.request import RecordingRequest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "updates"
CHAT_ID = 555000111


def raw(name: str, **override: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(override)
    return data


@pytest.fixture
async def app(
    settings: Settings, engine: DialogueEngine
) -> AsyncIterator[tuple[Application, RecordingRequest]]:  # type: ignore[type-arg]
    request = RecordingRequest()
    application = build_application(settings, dialogue=engine, request=request)
    await application.initialize()
    yield application, request
    await application.shutdown()


async def feed(app: Application, name: str) -> None:  # type: ignore[type-arg]
    await app.process_update(Update.de_json(raw(name), app.bot))


async def test_start_sends_html_with_language_buttons(
    app: tuple[Application, RecordingRequest],
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "start")
    [sent] = request.sent()
    assert sent["chat_id"] == CHAT_ID and sent["parse_mode"] == "HTML"
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [["lang:en", "lang:sw"]]
    assert sent["link_preview_options"] == {"is_disabled": True}


async def test_a_question_is_answered_with_feedback_and_menu_buttons(
    app: tuple[Application, RecordingRequest],
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "text")
    [sent] = request.sent()
    assert "Getting tested for HIV" in sent["text"]
    data = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert data[0].startswith("fb:") and data[-1] == "menu"


async def test_a_button_press_is_acknowledged_then_answered(
    app: tuple[Application, RecordingRequest],
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "callback_language")
    methods = [m for m, _ in request.calls if m in ("answerCallbackQuery", "sendMessage")]
    assert methods == ["answerCallbackQuery", "sendMessage"]
    assert "nitajibu kwa Kiswahili" in request.sent()[0]["text"]


@pytest.mark.parametrize("name", ["sticker", "voice", "photo"])
async def test_media_gets_the_text_only_reply(
    app: tuple[Application, RecordingRequest], name: str
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, name)
    [sent] = request.sent()
    assert "I can only read text for now" in sent["text"]


async def test_an_edited_message_is_answered_like_a_new_one(
    app: tuple[Application, RecordingRequest],
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "edited_text")
    [sent] = request.sent()
    assert "PrEP" in sent["text"]


async def test_unknown_command_gets_help(app: tuple[Application, RecordingRequest]) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "unknown_command")
    texts = [s["text"] for s in request.sent()]
    assert "know that command" in texts[0] and "/privacy" in texts[1]


async def test_nothing_identifying_reaches_the_logs(
    app: tuple[Application, RecordingRequest],
    caplog: pytest.LogCaptureFixture,  # type: ignore[type-arg]
) -> None:
    application, _ = app
    configure_logging("DEBUG")
    caplog.set_level("DEBUG")
    for name in ("start", "text", "callback_language", "sticker", "unknown_command"):
        await feed(application, name)
    logs = caplog.text
    for secret in ("555000111", "Amina", "amina_k", "tested for hiv", "123456:TEST-TOKEN"):
        assert secret not in logs


def test_command_names_are_normalised() -> None:
    assert command_name("/Start@HealthBot hello") == "start"
    assert command_name("/menu") == "menu"
    assert command_name("/") == ""


async def test_a_crisis_gets_the_safety_answer_through_telegram(
    app: tuple[Application, RecordingRequest],  # type: ignore[type-arg]
) -> None:
    application, request = app
    await feed(application, "crisis_sw")
    [sent] = request.sent()
    assert "1195" in sent["text"] and "116" in sent["text"]
    data = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert "safe" in data and "svc:gbv_care" in data and data[-1] == "menu"


async def test_quick_exit_deletes_the_conversation_and_leaves_a_neutral_line(
    app: tuple[Application, RecordingRequest],  # type: ignore[type-arg]
) -> None:
    application, request = app
    await feed(application, "start")
    await feed(application, "text")
    sent_ids = [p["message_id"] for p in _results(request)]
    await feed(application, "exit")
    deletions = [p for m, p in request.calls if m == "deleteMessages"]
    assert len(deletions) == 1
    deleted = set(deletions[0]["message_ids"])
    assert {1, 2, 9} <= deleted, "the user's own messages, including /exit"
    assert set(sent_ids) <= deleted, "every message the bot sent"
    last = request.sent()[-1]
    assert "reply_markup" not in last and "1190" not in last["text"]


def _results(request: RecordingRequest) -> list[dict[str, int]]:
    return [{"message_id": 500 + i + 1} for i, _ in enumerate(request.sent())]


@pytest.mark.parametrize(
    ("message", "numbers"),
    [
        ("I want to kill myself", ["1199", "1190"]),
        ("nataka kujiua", ["1199", "1190"]),
        ("I cut myself again last night", ["1199"]),
        ("najikata kila siku", ["1199"]),
        ("I was raped yesterday", ["1195", "116"]),
        ("nilibakwa jana", ["1195", "116"]),
        ("he is coming with a knife to kill me", ["999", "112"]),
        ("baba anatupiga sasa hivi", ["999", "112"]),
    ],
)
async def test_every_crisis_category_in_both_languages_through_telegram(
    app: tuple[Application, RecordingRequest],  # type: ignore[type-arg]
    message: str,
    numbers: list[str],
) -> None:
    application, request = app
    update = raw("text")
    update["message"]["text"] = message
    await application.process_update(Update.de_json(update, application.bot))
    [sent] = request.sent()
    assert all(n in sent["text"] for n in numbers)
    data = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert "safe" in data and data[-1] == "menu"  # "I'm safe now" and the way back


async def test_where_asks_with_a_share_location_keyboard_and_a_pin_gets_facilities(
    app: tuple[Application, RecordingRequest],
) -> None:  # type: ignore[type-arg]
    application, request = app
    await feed(application, "callback_service")
    [where] = request.sent()
    keyboard = where["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_location"] is True
    assert where["reply_markup"]["one_time_keyboard"] is True
    await feed(application, "location")
    results = request.sent()[-1]
    assert "km away" in results["text"] and "openstreetmap.org" in results["text"]
    data = [b["callback_data"] for row in results["reply_markup"]["inline_keyboard"] for b in row]
    assert "near:hiv_testing:-0.527,34.457,5" in data


async def test_the_alert_timer_reaches_counsellors_about_waiting_cases(
    app: tuple[Application, RecordingRequest],  # type: ignore[type-arg]
    sessions: Any,
) -> None:
    import asyncio
    from datetime import timedelta

    from sqlalchemy import update

    from bot.app import _alert_loop
    from bot.cases.repository import add_counsellor, open_case, set_duty
    from bot.db.models import CaseDB, utcnow
    from bot.db.repository import get_or_create_user

    application, request = app
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=900001, name="Asha")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)
        user = await get_or_create_user(session=session, user_id="e" * 64, channel="telegram")
        await open_case(
            session=session,
            user_id=user.id,
            channel="telegram",
            language="en",
            source="request",
            priority="normal",
        )
        await session.execute(update(CaseDB).values(alerted_at=utcnow() - timedelta(hours=1)))
    timer = asyncio.create_task(_alert_loop(application, 0.01))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if request.sent():
            break
    timer.cancel()
    [alert] = request.sent()
    assert int(alert["chat_id"]) == 900001 and "Case 1" in alert["text"]
