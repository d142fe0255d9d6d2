"""The dialogue engine: every conversational behaviour, for every channel, lives here."""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.cases.repository import counsellor_by_telegram_id
from bot.cases.staff import StaffIds
from bot.config import DEFAULT_RETENTION_DAYS
from bot.content.live import LiveContent
from bot.content.render import Format, Renderer
from bot.content.store import ContentStore
from bot.db.models import CounsellorDB
from bot.db.repository import (
    forget_channel_messages,
    log_message,
    record_feedback,
    referral_search_row,
    remember_channel_messages,
    unanswered_row,
)
from bot.db.session import autocommit
from bot.dialogue import payloads
from bot.dialogue.addresses import telegram_chat_id
from bot.dialogue.counsellor import COUNSELLOR_COMMANDS, STATE_WAITING, STATE_WITH, Desk
from bot.dialogue.crisis import CrisisFlow, Next
from bot.dialogue.messages import MAX_TEXT, Button, Inbound, InboundKind, Reply
from bot.dialogue.referral import Point, Referral, decode_point, valid_point
from bot.dialogue.split import split_message
from bot.dialogue.turn import Turn, open_turn
from bot.dialogue.unlinked import Unlinked
from bot.erasure import UserSummary, summarise_user
from bot.privacy import scrub
from bot.safety import SafetyService
from nlu.language import detect_language
from nlu.parser import Parser, ParseResult, ParserUnavailable

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.4
UNSURE_BEFORE_OFFER = 2  # after this many "did you mean?" in a row, offer a counsellor
SMALL_TALK = ("greet", "goodbye", "thanks", "bot_challenge", "talk_to_counsellor", "find_service")
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}
COMMANDS = ("start", "menu", "language", "help", "privacy", "mydata", "delete")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Words any channel sent, storable: a lone surrogate or NUL becomes U+FFFD, for neither can be
    written to PostgreSQL (nor a surrogate to SQLite), and the message would be lost."""
    return _UNSTORABLE.sub("\ufffd", text)


class DialogueEngine:
    """Turns an `Inbound` into `Reply`s; state lives in the database, never in this object."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        parser: Parser,
        content: ContentStore,
        renderer: Renderer,
        safety: SafetyService,
        referral: Referral,
        desk: Desk,
        threshold: float = DEFAULT_THRESHOLD,
        live: LiveContent | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        staff_refresh_s: float = 0.0,
    ) -> None:
        """`staff_refresh_s`: how long the list of counsellors' Telegram ids may be reused."""
        self._sessions = sessions
        self._unlinked = Unlinked(sessions)  # analytics rows, written apart from every turn
        self._parser = parser
        self._static_content = content
        self._live = live
        self._render = renderer
        self._safety = safety
        self._referral = referral
        self._desk = desk
        self._threshold = threshold
        self._retention_days = retention_days  # said in /privacy and /mydata
        self._staff_ids = StaffIds(sessions, staff_refresh_s)
        self._crisis = CrisisFlow(
            sessions=sessions, safety=safety, desk=desk, topic_of=self._topic_of
        )

    @property
    def _content(self) -> ContentStore:
        """The published content (reloaded by `LiveContent`), or the files' when there is none."""
        return self._live.store if self._live is not None else self._static_content

    def _revision(self, item: str) -> int | None:
        """The published revision number of a content item (None without revisions)."""
        return self._live.revisions.get(item) if self._live is not None else None

    @property
    def safety(self) -> SafetyService:
        """The crisis detector and safety answers this engine uses."""
        return self._safety

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Answer one message; never raises, and every reply fits the channel's limit.

        The crisis rules run first, before the database or the parser is touched, so a crisis is
        answered even when both are down.
        """
        started = time.perf_counter()
        inbound = dataclasses.replace(
            inbound, text=clean_text(inbound.text), payload=clean_text(inbound.payload)
        )
        replies = [chunk for reply in await self._handle(inbound) for chunk in _split(reply)]
        metrics.TURN_SECONDS.observe(time.perf_counter() - started)
        metrics.MESSAGES.labels(channel=inbound.channel).inc()
        metrics.REPLIES.labels(channel=inbound.channel).inc(len(replies))
        return replies

    async def _handle(self, inbound: Inbound) -> list[Reply]:
        staff = await self._staff_turn(inbound)
        if staff is not None:
            return staff
        if inbound.kind is InboundKind.COMMAND and inbound.command == "exit":
            return await self._quick_exit(inbound)  # leaving first: someone may be looking
        # a command's words ("/start i want to die") are read like any message's
        if inbound.kind in (InboundKind.TEXT, InboundKind.COMMAND) and inbound.text.strip():
            text = inbound.text[:MAX_TEXT]
            if inbound.kind is InboundKind.TEXT and self._safety.is_exit(text):
                return await self._quick_exit(inbound)
            crisis = self._safety.check(text)
            if crisis.detected:
                metrics.CRISIS.labels(category=crisis.category or "unknown").inc()
                return await self._crisis.detected(inbound, crisis, detect_language(text))
        language = "en"
        if self._live is not None:
            await self._live.refresh()
        await self._unlinked.write_due()  # before this turn adds its own
        try:
            async with self._turn(inbound) as turn:
                language = turn.language
                replies = await self._dispatch(turn)
        except Exception as exc:
            metrics.error(exc)
            log.exception("turn failed", extra={"channel": inbound.channel, "kind": inbound.kind})
            replies = [self._plain(inbound.format, language, "error")]
        return replies

    def _turn(self, inbound: Inbound) -> AbstractAsyncContextManager[Turn]:
        """One transaction with the user's row (created on first contact)."""
        return open_turn(self._sessions, inbound)

    # counsellors ----------------------------------------------------------------------------

    async def write_unlinked(self) -> None:
        """Write the waiting rows linked to nobody now (when the process stops)."""
        await self._unlinked.write()

    async def due_alerts(self) -> list[Reply]:
        """Alerts for cases nobody has taken yet, and goodbyes for those nobody took within a
        day (run by a timer; state lives in the database)."""
        await self._unlinked.write_due()
        try:
            async with self._sessions() as session, session.begin():
                return await self._desk.due_alerts(session)
        except Exception:
            log.exception("case alerts failed")
            return []

    async def queue_unanswered_check_ins(self) -> None:
        """Put check-ins nobody answered in the queue (the web process's timer; no alerts)."""
        await self._unlinked.write_due()
        try:
            async with self._sessions() as session, session.begin():
                await self._desk.queue_unanswered_check_ins(session)
        except Exception:
            log.exception("check-ins not queued")

    async def expire_waiting_cases(self) -> list[Reply]:
        """Close cases nobody took in time; the young people's goodbyes, to deliver (the web
        process's timer; the bot's alert timer does it in `due_alerts`)."""
        try:
            async with self._sessions() as session, session.begin():
                return await self._desk.expire_waiting(session)
        except Exception:
            log.exception("waiting cases not expired")
            return []

    async def _staff_turn(self, inbound: Inbound) -> list[Reply] | None:
        """A registered counsellor's message or command; None for everyone else.

        If the database cannot even say who is staff, the message goes on as a young person's:
        the crisis check, which needs no database, must still come first.
        """
        telegram_id = telegram_chat_id(inbound.address)
        if telegram_id is None or not await self._staff_ids.may_be_staff(telegram_id):
            return None
        looked_up = False
        try:
            async with self._sessions() as session, session.begin():
                counsellor = await counsellor_by_telegram_id(
                    session=session, telegram_id=telegram_id
                )
                looked_up = True
                if counsellor is None:
                    return None
                return await self._counsellor(session, counsellor, inbound)
        except Exception as exc:
            metrics.error(exc)
            if not looked_up:
                log.warning(
                    "staff check failed (%s): answered as a young person's message",
                    type(exc).__name__,
                )
                return None
            log.exception("counsellor turn failed")
            return [Reply("Sorry, that did not work. Please try again.")]

    async def _counsellor(
        self, session: AsyncSession, counsellor: CounsellorDB, inbound: Inbound
    ) -> list[Reply]:
        if inbound.kind is InboundKind.COMMAND:
            return await self._desk.counsellor_turn(
                session=session,
                counsellor=counsellor,
                command=inbound.command,
                argument=inbound.text,
                text="",
            )
        if inbound.kind is InboundKind.TEXT and inbound.text.strip():
            return await self._desk.counsellor_turn(
                session=session, counsellor=counsellor, command="", argument="", text=inbound.text
            )
        return [Reply("Only text reaches the young person. Commands: /queue, /next, /close.")]

    async def _request_counsellor(self, turn: Turn, language: str) -> list[Reply]:
        line, alerts = await self._desk.request(
            session=turn.session,
            user=turn.user,
            channel=turn.inbound.channel,
            address=turn.inbound.address,
            language=language,
            topic=str((turn.user.state_data or {}).get("intent") or "") or None,
        )
        return [Reply(self._message(turn, line), ((self._menu_button(language),),)), *alerts]

    # safety -------------------------------------------------------------------------------

    async def _topic_of(self, text: str) -> str | None:
        """The topic a message confidently asks about, if any (kept while a check-in waits)."""
        result = await self._parser.parse(text)
        intent = result.intent.name
        confident = result.intent.confidence >= self._threshold
        # "i just want to die lol" asks nothing: after "No, I'm okay" the suicidal-thoughts
        # article is not what they asked (self-harm and violence answers are: scars, reporting)
        asked = intent in self._content.topics and intent != "suicidal_thoughts"
        return intent if confident and asked else None

    async def _after_flow(self, turn: Turn, step: Next) -> list[Reply]:
        """The crisis flow's replies, then what it hands back: a topic, or the message itself."""
        if step.topic is not None and step.topic in self._content.topics:
            return step.replies + await self._answer_intent(turn, step.topic)
        if step.go_on:
            return step.replies + await self._text(turn)
        return step.replies

    async def _quick_exit(self, inbound: Inbound) -> list[Reply]:
        """Forget (and let the channel delete) the recent messages; leave one neutral line."""
        ids: list[int] = []
        notices: list[Reply] = []
        language = "en"
        if self._live is not None:
            await self._live.refresh()
        try:
            async with self._turn(inbound) as turn:
                language = turn.language
                ids = await forget_channel_messages(session=turn.session, user_id=turn.user.id)
                notices = await self._desk.left(
                    session=turn.session, user=turn.user, how="quick_exit"
                )
                if turn.user.state not in (STATE_WITH, STATE_WAITING):  # a case keeps its relay
                    turn.user.state = "idle"
                    turn.user.state_data = {}
        except Exception:
            log.exception("quick exit could not read the recent messages")
        line = self._safety.exit_line.get(language, self._safety.exit_line["en"])
        exit_reply = Reply(
            self._render.message(inbound.format, line),
            delete_message_ids=tuple(ids),
            ends_session=True,
        )
        return [exit_reply, *notices]

    async def remember_channel_messages(self, user_id: str, message_ids: list[int]) -> None:
        """Record ids of messages in the user's chat (for /exit); failures only logged."""
        try:
            async with autocommit(self._sessions) as connection:
                await remember_channel_messages(
                    connection=connection, user_id=user_id, message_ids=message_ids
                )
        except Exception:
            log.exception("could not record chat message ids")

    async def _dispatch(self, turn: Turn) -> list[Reply]:
        kind = turn.inbound.kind
        if kind is InboundKind.COMMAND:
            return await self._command(turn)
        if kind is InboundKind.BUTTON:
            return await self._button(turn)
        if kind is InboundKind.TEXT and turn.inbound.text.strip():
            if self._crisis.in_conversation(turn.user):
                return await self._after_flow(turn, await self._crisis.follow_up(turn))
            if self._crisis.awaiting_check_in(turn.user):
                return await self._after_flow(turn, await self._crisis.check_in_answer(turn))
            if turn.user.state == STATE_WITH:  # a counsellor is talking with them: pass it on
                await self._log_in(turn, "relay")
                text = turn.inbound.text[:MAX_TEXT]
                relayed = await self._desk.relay_from_young(
                    session=turn.session, user=turn.user, text=text
                )
                if relayed is not None:
                    return relayed
                turn.user.state = "idle"
            return await self._text(turn)
        if kind is InboundKind.LOCATION:
            return await self._location(turn)
        await self._log_in(turn, "media" if kind is InboundKind.MEDIA else "empty")
        return [self._with_menu(turn.inbound.format, turn.language, "unsupported")]

    # commands -----------------------------------------------------------------------------

    async def _command(self, turn: Turn) -> list[Reply]:
        command = turn.inbound.command
        await self._log_in(turn, "command", intent=command if command in COMMANDS else "unknown")
        if command == "start":
            return self._start(turn)
        if command == "language":
            return [self._language_choice(turn.inbound.format)]
        if command == "menu":
            return [self._menu(turn)]
        if command in ("help", "privacy"):
            return [
                self._with_menu_button(
                    turn.inbound.format,
                    turn.language,
                    command,
                    retention_days=self._retention_days,
                )
            ]
        if command == "mydata":
            return [await self._my_data(turn)]
        if command == "delete":
            return [self._confirm_delete(turn)]
        if command in COUNSELLOR_COMMANDS:  # staff only: say nothing about cases
            return [self._plain(turn.inbound.format, turn.language, "case_not_available")]
        return [
            self._plain(turn.inbound.format, turn.language, "unknown_command"),
            self._with_menu_button(turn.inbound.format, turn.language, "help"),
        ]

    def _start(self, turn: Turn) -> list[Reply]:
        if turn.user.language is None:
            turn.user.state = "choosing_language"
            body = "\n\n".join(
                (self._both("welcome"), self._both("anonymous"), self._both("choose_language"))
            )
            return [Reply(self._render.message(turn.inbound.format, body), _language_buttons())]
        body = "\n\n".join(
            (
                self._render.ui("welcome", turn.language),
                self._render.ui("anonymous", turn.language),
                self._render.ui("menu_prompt", turn.language),
            )
        )
        turn.user.state = "menu"
        return [
            Reply(
                self._render.message(turn.inbound.format, body), self._menu_buttons(turn.language)
            )
        ]

    def _language_choice(self, fmt: Format) -> Reply:
        return Reply(self._render.message(fmt, self._both("choose_language")), _language_buttons())

    # buttons ------------------------------------------------------------------------------

    async def _button(self, turn: Turn) -> list[Reply]:
        payload = payloads.decode(turn.inbound.payload)
        await self._log_in(turn, "button", intent=payload.arg if payload else None)
        if payload is None:
            return self._stale(turn)
        if payload.action == "menu":
            return [self._menu(turn)]
        if payload.action == "lang" and payload.arg in LANGUAGE_NAMES:
            turn.user.language = payload.arg
            turn.user.state = "menu"
            body = self._render.ui("language_set", payload.arg)
            return [Reply(self._message(turn, body), self._menu_buttons(payload.arg))]
        if payload.action == "topic":
            return self._topic(turn, payload.arg)
        if payload.action == "ask":
            return await self._answer_intent(turn, payload.arg)
        if payload.action == "more" and payload.arg in self._content.topics:
            return [await self._more(turn, payload.arg)]
        message_id = payloads.small_int(payload.arg)
        if payload.action == "fb" and message_id is not None and payload.extra in ("0", "1"):
            return await self._feedback(turn, message_id, payload.extra == "1")
        if payload.action == "rate":
            rated = await self._desk.rate(
                session=turn.session,
                user=turn.user,
                case_arg=payload.arg,
                rating=payload.extra,
                language=turn.language,
            )
            return [rated] if rated is not None else self._stale(turn)
        if payload.action in ("svc", "near") and self._referral.known_service(payload.arg):
            return await self._service_button(turn, payload.arg, payload.extra, payload.action)
        if payload.action == "erase":
            return await self._erase(turn, payload.arg, payload.extra)
        if payload.action == "safe":
            return await self._crisis.safe_button(turn)
        if payload.action == "chk":
            step = await self._crisis.check_in_button(turn, payload.arg, payload.extra)
            return await self._after_flow(turn, step) if step.replies else self._stale(turn)
        return self._stale(turn)

    def _stale(self, turn: Turn) -> list[Reply]:
        return [self._menu(turn, intro_key="stale_button")]

    # the young person's data ----------------------------------------------------------------

    async def _my_data(self, turn: Turn) -> Reply:
        """/mydata: what is kept about them right now (this command's own record included)."""
        summary = await summarise_user(session=turn.session, user_id=turn.user.id)
        language = turn.language
        body = self._render.ui("mydata", language, **self._summary_values(summary, language))
        return Reply(self._message(turn, body), ((self._menu_button(language),),))

    def _summary_values(self, summary: UserSummary, language: str) -> dict[str, object]:
        topics = self._content.topics
        return {
            "chosen_language": summary.language or "",
            "first_seen": summary.first_seen.isoformat(),
            "last_seen": summary.last_seen.isoformat(),
            "messages_in": summary.messages_in,
            "messages_out": summary.messages_out,
            "topics": [topics[t].title.get(language) if t in topics else t for t in summary.topics],
            "topics_more": summary.topics_total - len(summary.topics),
            "feedback": summary.feedback,
            "cases_open": summary.cases_open,
            "cases_closed": summary.cases_closed,
            "transcript": summary.transcript,
            "sealed_addresses": summary.sealed_addresses,
            "chat_ids": summary.chat_message_ids,
            "retention_days": self._retention_days,
        }

    def _confirm_delete(self, turn: Turn) -> Reply:
        """/delete: say what goes and what stays; the buttons carry a one-time code.

        Only the newest confirmation works: an old "Yes" (scrolled up to later, or pressed again)
        is stale. The buttons act on whoever presses them, known by the channel, never by the
        payload. The state stays as it was: a chat with a counsellor goes on until "Yes".
        """
        code = secrets.token_hex(4)
        turn.user.state_data = {**(turn.user.state_data or {}), "erase": code}
        language = turn.language
        yes = Button(
            self._render.ui("button_delete_yes", language), payloads.encode("erase", "yes", code)
        )
        no = Button(
            self._render.ui("button_delete_no", language), payloads.encode("erase", "no", code)
        )
        body = self._render.ui("delete_confirm", language)
        return Reply(self._message(turn, body), ((yes,), (no,)))

    async def _erase(self, turn: Turn, answer: str, code: str) -> list[Reply]:
        """The answer to /delete: erase everything (in this one transaction), or keep it."""
        expected = (turn.user.state_data or {}).get("erase")
        if answer not in ("yes", "no") or not code or code != expected:
            return self._stale(turn)
        language = turn.language  # read now: after the erasure there is no row to ask
        if answer == "no":
            turn.user.state_data = {
                k: v for k, v in (turn.user.state_data or {}).items() if k != "erase"
            }
            return [self._with_menu_button(turn.inbound.format, language, "delete_cancelled")]
        report, notices = await self._desk.erase(
            session=turn.session, user_id=turn.user.id, address=turn.inbound.address
        )
        log.info("a young person erased their data", extra={"channel": turn.inbound.channel})
        body = self._render.ui("delete_done", language)
        done = Reply(
            self._render.message(turn.inbound.format, body),
            delete_message_ids=report.chat_message_ids,
            ends_session=True,
        )
        return [done, *notices]

    def _topic(self, turn: Turn, topic_id: str) -> list[Reply]:
        topic = next((t for t in self._content.menu.topics if t.id == topic_id and t.intents), None)
        if topic is None:
            return self._stale(turn)
        turn.user.state = "topic"
        turn.user.state_data = {"topic": topic.id}
        rows = [
            (
                Button(
                    self._content.topics[i].question.get(turn.language), payloads.encode("ask", i)
                ),
            )
            for i in topic.intents
            if i in self._content.topics
        ]
        rows.append((self._menu_button(turn.language),))
        text = self._render.message(
            turn.inbound.format,
            self._render.ui("topic_prompt", turn.language),
            title=topic.label.get(turn.language),
        )
        return [Reply(text, tuple(rows))]

    async def _feedback(self, turn: Turn, message_id: int, helpful: bool) -> list[Reply]:
        saved = await record_feedback(
            session=turn.session, user_id=turn.user.id, message_id=message_id, helpful=helpful
        )
        if saved is None:
            return self._stale(turn)
        key = "feedback_yes" if helpful else "feedback_no"
        return [self._with_menu_button(turn.inbound.format, turn.language, key)]

    # free text ----------------------------------------------------------------------------

    async def _text(self, turn: Turn) -> list[Reply]:
        text = turn.inbound.text[:MAX_TEXT]
        if turn.user.state == "referral_place":
            replies = await self._typed_place(turn, text)
            if replies:
                return replies
        try:
            result = await self._parser.parse(text)
        except ParserUnavailable:
            log.warning("parser unavailable", extra={"channel": turn.inbound.channel})
            await self._log_in(turn, "text")
            return [self._with_menu(turn.inbound.format, turn.language, "not_understood")]
        if turn.user.language is None:
            turn.user.detected_language = result.language
        language = turn.language
        await self._log_in(
            turn,
            "text",
            intent=result.intent.name,
            confidence=result.intent.confidence,
            language=language,
        )
        crisis = self._safety.detector.confirm(text, result.crisis)
        if crisis.detected:
            metrics.CRISIS.labels(category=crisis.category or "unknown").inc()
            return await self._crisis.in_turn(turn, crisis)
        intent = result.intent.name
        confident = result.intent.confidence >= self._threshold
        if turn.user.state == "referral_place" and (not confident or intent == "out_of_scope"):
            _, _, suggestions = self._referral.resolve(text)
            return [self._referral.unknown_place(turn.inbound.format, language, suggestions)]
        if not confident or intent == "out_of_scope":
            question = unanswered_row(
                text=scrub(text), language=language, guess=intent if not confident else None
            )
            if question is not None:
                self._unlinked.add(question)
        if not confident:
            return [self._did_you_mean(turn, result, language)]
        if intent == "find_service":
            return [await self._find_service(turn, result, language)]
        if intent in self._content.topics:
            return await self._answer_intent(turn, intent, language)
        if intent in ("out_of_scope", "menu_help", "greet"):
            await self._log_out(turn, "reply", intent, language)
            return [self._with_menu(turn.inbound.format, language, intent, conversation=True)]
        if intent == "talk_to_counsellor":
            return await self._request_counsellor(turn, language)
        if intent in SMALL_TALK and intent in self._content.conversation:
            return [await self._conversation(turn, intent, language)]
        return [self._did_you_mean(turn, result, language)]

    def _did_you_mean(self, turn: Turn, result: ParseResult, language: str) -> Reply:
        candidates = [s.name for s in result.intent_ranking if s.name in self._content.topics][:3]
        rows = [
            (Button(self._content.topics[i].question.get(language), payloads.encode("ask", i)),)
            for i in candidates
        ]
        unsure = int((turn.user.state_data or {}).get("unsure", 0)) + 1
        turn.user.state_data = {"unsure": unsure}
        counsellor = self._content.menu_actions.get("talk_to_counsellor")
        if unsure >= UNSURE_BEFORE_OFFER and counsellor is not None:  # a human may help more
            rows.append(
                (Button(counsellor.get(language), payloads.encode("ask", "talk_to_counsellor")),)
            )
        rows.append((self._menu_button(language),))
        body = self._render.ui("did_you_mean", language)
        return Reply(self._message(turn, body), tuple(rows))

    # answers ------------------------------------------------------------------------------

    async def _answer_intent(
        self, turn: Turn, intent: str, language: str | None = None
    ) -> list[Reply]:
        language = language or turn.language
        if intent == "talk_to_counsellor":
            return await self._request_counsellor(turn, language)
        if intent == "find_service":
            turn.user.state = "referral_service"
            return [self._referral.ask_service(turn.inbound.format, language)]
        if intent in self._content.conversation and intent in (*SMALL_TALK, "menu_help"):
            return [await self._conversation(turn, intent, language)]
        item = self._content.topics.get(intent)
        if item is None:
            return self._stale(turn)
        message_id = await log_message(
            session=turn.session,
            user_id=turn.user.id,
            direction="out",
            kind="answer",
            intent=intent,
            language=language,
            content_id=intent,
            content_revision=self._revision(intent),
        )
        turn.user.state = "answered"
        turn.user.state_data = {"intent": intent}
        rows: list[tuple[Button, ...]] = [
            (
                Button(
                    self._render.ui("button_helpful", language),
                    payloads.encode("fb", str(message_id), "1"),
                ),
                Button(
                    self._render.ui("button_not_helpful", language),
                    payloads.encode("fb", str(message_id), "0"),
                ),
            ),
            (Button(self._render.ui("button_more", language), payloads.encode("more", intent)),),
        ]
        rows += self._follow_up_rows(item.follow_ups, language)
        if item.services and self._referral.known_service(item.services[0]):
            where = self._render.ui("button_where_to_get", language)
            rows.append((Button(where, payloads.encode("svc", item.services[0])),))
        rows.append((self._menu_button(language),))
        text = self._render.answer(turn.inbound.format, intent, language)
        return [Reply(text, tuple(rows))]

    async def _more(self, turn: Turn, intent: str) -> Reply:
        item = self._content.topics[intent]
        await self._log_out(turn, "more", intent)
        rows = self._follow_up_rows(item.follow_ups, turn.language)
        rows.append((self._menu_button(turn.language),))
        return Reply(self._render.more(turn.inbound.format, intent, turn.language), tuple(rows))

    def _follow_up_rows(self, intents: Sequence[str], language: str) -> list[tuple[Button, ...]]:
        actions = self._content.menu_actions
        rows: list[tuple[Button, ...]] = []
        for intent in intents:
            item = self._content.topics.get(intent)
            label = item.question if item is not None else actions.get(intent)
            if label is not None:
                rows.append((Button(label.get(language), payloads.encode("ask", intent)),))
        return rows

    async def _conversation(self, turn: Turn, intent: str, language: str) -> Reply:
        item = self._content.conversation[intent]
        await self._log_out(turn, "reply", intent, language)
        body = self._render.text(item.answer.get(language), language)
        return Reply(self._message(turn, body), ((self._menu_button(language),),))

    # referral -----------------------------------------------------------------------------

    async def _find_service(self, turn: Turn, result: ParseResult, language: str) -> Reply:
        """ "Where can I get tested in Homa Bay?": use the service and place it names."""
        fmt = turn.inbound.format
        values = {e.entity: e.value for e in result.entities}
        service = values.get("service", "")
        point = None
        if "location" in values:
            point, _, _ = self._referral.resolve(values["location"])
        if not self._referral.known_service(service):
            turn.user.state = "referral_service"
            return self._referral.ask_service(fmt, language, point)
        if point is not None:
            return await self._results(turn, service, point, language=language)
        return self._ask_place(turn, service, language)

    def _ask_place(self, turn: Turn, service: str, language: str) -> Reply:
        turn.user.state = "referral_place"
        turn.user.state_data = {"service": service}  # the service only, never a place
        return self._referral.ask_place(turn.inbound.format, language, service)

    async def _service_button(
        self, turn: Turn, service: str, extra: str, action: str
    ) -> list[Reply]:
        """`svc:SERVICE[:POINT]` chooses a service; `near:SERVICE:POINT[,OFFSET]` searches."""
        decoded = decode_point(extra) if extra else None
        if extra and decoded is None:
            return self._stale(turn)
        if decoded is None:
            if action == "near":
                return self._stale(turn)
            return [self._ask_place(turn, service, turn.language)]
        point, offset = decoded
        return [await self._results(turn, service, point, offset)]

    async def _typed_place(self, turn: Turn, text: str) -> list[Reply]:
        """In "where are you?": a place answers it; anything else goes on to the parser."""
        service = str((turn.user.state_data or {}).get("service", ""))
        if not self._referral.known_service(service):
            return []
        point, candidates, _ = self._referral.resolve(text)
        fmt, language = turn.inbound.format, turn.language
        if point is not None:
            return [await self._results(turn, service, point)]
        if candidates:
            return [self._referral.which_place(fmt, language, service, candidates)]
        return []

    async def _location(self, turn: Turn) -> list[Reply]:
        """A shared pin: search at once if a service was chosen, else ask which service."""
        inbound = turn.inbound
        await self._log_in(turn, "location")  # that a pin came, never where
        point = valid_point(inbound.latitude, inbound.longitude)
        if point is None:  # no pin, or a forged one (out of range, NaN, infinite)
            return [self._with_menu(inbound.format, turn.language, "unsupported")]
        service = str((turn.user.state_data or {}).get("service", ""))
        if turn.user.state == "referral_place" and self._referral.known_service(service):
            return [await self._results(turn, service, point)]
        turn.user.state = "referral_service"
        return [self._referral.ask_service(inbound.format, turn.language, point)]

    async def _results(
        self, turn: Turn, service: str, point: Point, offset: int = 0, language: str | None = None
    ) -> Reply:
        """Search; count it by service and county, linked to nobody (never the place itself)."""
        language = language or turn.language
        turn.user.state = "referral_results"
        if offset == 0:
            await log_message(
                session=turn.session,
                user_id=turn.user.id,
                direction="out",
                kind="referral",
                intent=service,
                language=language,
            )
            self._unlinked.add(
                referral_search_row(service=service, county=self._referral.county_of(point))
            )
        return self._referral.results(turn.inbound.format, language, service, point, offset)

    # building blocks ----------------------------------------------------------------------

    def _menu(self, turn: Turn, intro_key: str = "menu_prompt") -> Reply:
        turn.user.state = "menu"
        body = self._render.ui(intro_key, turn.language)
        if intro_key != "menu_prompt":
            body += "\n\n" + self._render.ui("menu_prompt", turn.language)
        return Reply(self._message(turn, body), self._menu_buttons(turn.language))

    def _menu_buttons(self, language: str) -> tuple[tuple[Button, ...], ...]:
        buttons = [
            Button(
                t.label.get(language),
                payloads.encode("ask", t.action) if t.action else payloads.encode("topic", t.id),
            )
            for t in self._content.menu.topics
        ]
        return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))

    def _menu_button(self, language: str) -> Button:
        return Button(self._render.ui("button_menu", language), payloads.encode("menu"))

    def _with_menu(
        self, fmt: Format, language: str, key: str, *, conversation: bool = False
    ) -> Reply:
        """A message followed by the whole topic menu."""
        source = (
            self._content.conversation[key].answer.get(language)
            if conversation
            else self._content.ui[key].get(language)
        )
        body = self._render.text(source, language)
        return Reply(self._render.message(fmt, body), self._menu_buttons(language))

    def _with_menu_button(self, fmt: Format, language: str, key: str, **values: object) -> Reply:
        body = self._render.ui(key, language, **values)
        return Reply(self._render.message(fmt, body), ((self._menu_button(language),),))

    def _plain(self, fmt: Format, language: str, key: str) -> Reply:
        return Reply(self._render.message(fmt, self._render.ui(key, language)))

    def _message(self, turn: Turn, body: str) -> str:
        return self._render.message(turn.inbound.format, body)

    def _both(self, key: str) -> str:
        return self._render.ui(key, "en") + "\n" + self._render.ui(key, "sw")

    async def _log_out(self, turn: Turn, kind: str, item: str, language: str | None = None) -> None:
        """Record that a content item went out, with its published revision."""
        await log_message(
            session=turn.session,
            user_id=turn.user.id,
            direction="out",
            kind=kind,
            intent=item,
            language=language or turn.language,
            content_id=item,
            content_revision=self._revision(item),
        )

    async def _log_in(
        self,
        turn: Turn,
        kind: str,
        *,
        intent: str | None = None,
        confidence: float | None = None,
        language: str | None = None,
    ) -> None:
        await log_message(
            session=turn.session,
            user_id=turn.user.id,
            direction="in",
            kind=kind,
            intent=intent,
            confidence=confidence,
            language=language or turn.language,
        )


def _language_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        tuple(Button(name, payloads.encode("lang", code)) for code, name in LANGUAGE_NAMES.items()),
    )


def _split(reply: Reply) -> list[Reply]:
    """A reply over the limit as several, all to the same chat.

    Deleting and the call buttons come with the first; the buttons and the location keyboard go
    with the last, where the reader ends up.
    """
    chunks = split_message(reply.text)
    if len(chunks) == 1:
        return [reply]
    last = len(chunks) - 1
    return [
        Reply(
            chunk,
            buttons=reply.buttons if i == last else (),
            delete_message_ids=reply.delete_message_ids if i == 0 else (),
            request_location=reply.request_location if i == last else "",
            to=reply.to,
            calls=reply.calls if i == 0 else (),
            receipt=reply.receipt,
            ends_session=reply.ends_session,
        )
        for i, chunk in enumerate(chunks)
    ]
