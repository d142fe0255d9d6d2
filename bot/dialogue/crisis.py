"""The crisis flow: triage by level, the check-in, and a crisis conversation that stays in context.

A clear crisis gets the safety answer and an urgent case, and the young person is then *in a
crisis conversation* (state `crisis`) until they say they are safe, a counsellor takes the case, or
CRISIS_QUIET passes without a message: every message in between gets a short reply in context (the
truth about the queue, "you can keep writing here", what to do now), never a greeting, a topic
answer or "did you mean", and never the same text twice in a row. A possible crisis gets one kind,
direct question (state `crisis_check`): "yes" is a clear crisis, "no" goes back to what they asked,
anything else (or silence past the check-in's wait) asks a counsellor to check in.

During a live chat with a counsellor the young person is never interrupted: the message is flagged
to the counsellor. Storing the case is best effort: the answer goes out even with the database down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import UserDB, as_utc, utcnow
from bot.db.repository import log_message
from bot.dialogue.counsellor import STATE_WAITING, STATE_WITH, Desk
from bot.dialogue.messages import MAX_TEXT, Inbound, Reply
from bot.dialogue.turn import Turn, open_turn
from bot.safety import SafetyService
from bot.safety.availability import UNREACHABLE, Availability
from nlu.parser import CLEAR, CRISIS_CATEGORIES, Crisis

log = logging.getLogger(__name__)

STATE_CRISIS = "crisis"
STATE_CHECK = "crisis_check"
# A crisis conversation ends after this long without a message (the case stays in the queue).
CRISIS_QUIET = timedelta(hours=4)
# A check-in is answered by the next message within this long; later messages start afresh.
CHECK_QUIET = timedelta(hours=1)

TopicOf = Callable[[str], Awaitable[str | None]]


@dataclass
class Next:
    """What the engine does after the flow: send `replies`, then maybe go on.

    `go_on`: answer the message as usual too (they moved on from a check-in); `topic`: answer this
    topic (what they had asked before the check-in, once they said they are okay).
    """

    replies: list[Reply] = field(default_factory=list)
    go_on: bool = False
    topic: str | None = None


class CrisisFlow:
    """Answers crises and the messages after them; all state lives in the user's row."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        safety: SafetyService,
        desk: Desk,
        topic_of: TopicOf,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._safety = safety
        self._desk = desk
        self._topic_of = topic_of
        self._clock = clock

    # entry points ---------------------------------------------------------------------------

    async def detected(self, inbound: Inbound, crisis: Crisis, language: str) -> list[Reply]:
        """A crisis found before parsing: answer in this turn; the case is stored best effort."""
        try:
            async with open_turn(self._sessions, inbound) as turn:
                if turn.user.language is None:
                    turn.user.detected_language = language
                return await self.in_turn(turn, crisis)
        except Exception:
            log.exception("crisis case not stored", extra={"category": crisis.category})
        if crisis.clear:
            return [self._safety.answer(inbound.format, language, crisis, UNREACHABLE)]
        return [self._safety.check_in(inbound.format, language, crisis, UNREACHABLE)]

    async def in_turn(self, turn: Turn, crisis: Crisis) -> list[Reply]:
        """A crisis in a turn whose transaction is open (found by the rules or by the parser)."""
        user = turn.user
        await log_message(
            session=turn.session,
            user_id=user.id,
            direction="in",
            kind="crisis" if crisis.clear else "check_in",
            intent=crisis.category,
            language=turn.language,
        )
        if user.state == STATE_WITH:
            return await self._flag_to_counsellor(turn, crisis)
        if self.in_conversation(user):
            # in a crisis conversation, only a phrase rule's signal is news enough for another
            # answer (or, for a new kind of crisis that is only possible, a check-in); a
            # classifier's guess ("it happened again") is read in context
            answered = _data(user).get("answered") or []
            if not (crisis.matched or "").startswith("rule:"):
                return (await self.follow_up(turn)).replies
            if not crisis.clear:
                if crisis.category in answered:
                    return (await self.follow_up(turn)).replies
                return await self._check_in(turn, crisis)
            return await self._clear(turn, crisis)
        if user.state == STATE_CHECK and self._fresh(user, CHECK_QUIET):
            # a second signal after the check-in answers it
            return await self._clear(turn, _as_clear(crisis))
        if crisis.clear:
            return await self._clear(turn, crisis)
        return await self._check_in(turn, crisis)

    def in_conversation(self, user: UserDB) -> bool:
        """Whether the young person is in a crisis conversation that has not gone quiet."""
        return user.state == STATE_CRISIS and self._fresh(user, CRISIS_QUIET)

    def awaiting_check_in(self, user: UserDB) -> bool:
        """Whether their next message answers a check-in."""
        return user.state == STATE_CHECK and self._fresh(user, CHECK_QUIET)

    async def follow_up(self, turn: Turn) -> Next:
        """A message in a crisis conversation (no new crisis in it): a short reply in context."""
        user, data = turn.user, _data(turn.user)
        text = turn.inbound.text[:MAX_TEXT]
        key = self._safety.understand(text)
        category = str(data.get("category") or "") or None
        await log_message(
            session=turn.session,
            user_id=user.id,
            direction="in",
            kind="crisis_talk",
            intent=key,
            language=turn.language,
        )
        if key == "safe":
            return Next([await self._safe(turn)])
        if key in ("not_safe", "again") and category is not None:
            await self._raise_case(turn, Crisis(True, category, f"flow:{key}", CLEAR))
        return Next([await self._say(turn, key or "still_here")])

    async def check_in_answer(self, turn: Turn) -> Next:
        """The message after a check-in: yes, no, or something else (they moved on)."""
        answer = self._safety.understand(turn.inbound.text[:MAX_TEXT], checking=True)
        if answer == "yes":
            return Next(await self._confirm(turn))
        if answer == "no":
            return await self._not_at_risk(turn)
        return await self._moved_on(turn)

    async def check_in_button(self, turn: Turn, answer: str, category: str) -> Next:
        """The check-in's buttons: `chk:yes:<category>` or `chk:no:<category>`.

        A "Yes" is taken seriously even from an old check-in (the category rides in the button).
        """
        if answer == "yes" and category in CRISIS_CATEGORIES:
            if turn.user.state != STATE_CHECK:
                _set(turn.user, STATE_CHECK, self._now(), category=category)
            return Next(await self._confirm(turn))
        if answer == "no" and turn.user.state == STATE_CHECK:
            return await self._not_at_risk(turn)
        return Next(go_on=True)  # stale: the engine shows the menu

    async def safe_button(self, turn: Turn) -> list[Reply]:
        """ "I'm safe now", at any time."""
        return [await self._safe(turn)]

    # clear crises ---------------------------------------------------------------------------

    async def _clear(self, turn: Turn, crisis: Crisis) -> list[Reply]:
        """The safety answer once per category in a conversation; after that, a short reply."""
        user = turn.user
        previous = _data(user) if self.in_conversation(user) else {}
        answered = [str(c) for c in previous.get("answered") or []]
        if user.state == STATE_CHECK:
            await self._desk.confirm_check_in(session=turn.session, user=user)
        alerts, stored = await self._raise_case(turn, crisis)
        repeat = crisis.category in answered
        user.state = STATE_CRISIS
        user.state_data = {
            **{k: v for k, v in previous.items() if k in ("said", "variant")},
            "at": self._now().isoformat(),
            "category": crisis.category,
            "friend": crisis.about_friend,
            "answered": answered if repeat else [*answered, crisis.category],
        }
        if repeat:
            return [await self._say(turn, "repeat"), *alerts]
        availability = await self._availability(turn) if stored else UNREACHABLE
        answer = self._safety.answer(turn.inbound.format, turn.language, crisis, availability)
        return [answer, *alerts]

    async def _raise_case(self, turn: Turn, crisis: Crisis) -> tuple[list[Reply], bool]:
        """Open or raise the urgent case: (alerts, stored). A savepoint: the answer goes anyway."""
        try:
            async with turn.session.begin_nested():
                _, alerts = await self._desk.request(
                    session=turn.session,
                    user=turn.user,
                    channel=turn.inbound.channel,
                    address=turn.inbound.address,
                    language=turn.language,
                    source="crisis",
                    priority="urgent",
                    category=crisis.category,
                    matched=crisis.matched,
                )
        except Exception:
            log.exception("crisis case not stored", extra={"category": crisis.category})
            return [], False
        return alerts, True

    async def _flag_to_counsellor(self, turn: Turn, crisis: Crisis) -> list[Reply]:
        """During a live chat the counsellor sees the message flagged; the young person is not
        interrupted by an automated answer."""
        if crisis.clear:
            await self._raise_case(turn, crisis)
        relayed = await self._desk.relay_from_young(
            session=turn.session,
            user=turn.user,
            text=turn.inbound.text[:MAX_TEXT],
            crisis=crisis.category,
            possible=not crisis.clear,
        )
        if relayed is not None:
            return relayed
        turn.user.state = "idle"  # the chat had ended: answer as anyone else
        return await self.in_turn(turn, crisis)

    # check-ins ------------------------------------------------------------------------------

    async def _check_in(self, turn: Turn, crisis: Crisis) -> list[Reply]:
        """Ask one kind, direct question; a case waits out of the queue for the answer."""
        topic = None
        try:
            topic = await self._topic_of(turn.inbound.text[:MAX_TEXT])
        except Exception as exc:  # its message could quote the text: only its type is logged
            log.warning("no topic for a check-in (%s)", type(exc).__name__)
        availability = UNREACHABLE
        try:
            async with turn.session.begin_nested():
                await self._desk.check_in(
                    session=turn.session,
                    user=turn.user,
                    channel=turn.inbound.channel,
                    address=turn.inbound.address,
                    language=turn.language,
                    category=crisis.category,
                    matched=crisis.matched,
                )
                availability = await self._desk.availability(turn.session, None)
        except Exception:
            log.exception("check-in not stored", extra={"category": crisis.category})
        _set(
            turn.user,
            STATE_CHECK,
            self._now(),
            category=crisis.category,
            friend=crisis.about_friend,
            topic=topic,
        )
        return [self._safety.check_in(turn.inbound.format, turn.language, crisis, availability)]

    async def _confirm(self, turn: Turn) -> list[Reply]:
        data = _data(turn.user)
        category = str(data.get("category") or "suicide")
        crisis = Crisis(True, category, "check_in:yes", CLEAR, bool(data.get("friend")))
        return await self._clear(turn, crisis)

    async def _not_at_risk(self, turn: Turn) -> Next:
        topic = _data(turn.user).get("topic")
        await self._desk.drop_check_in(session=turn.session, user=turn.user)
        self._leave(turn.user)
        reply = self._safety.follow_up(
            turn.inbound.format, turn.language, "check_in_no", await self._availability(turn)
        )
        return Next([reply], topic=str(topic) if topic else None)

    async def _moved_on(self, turn: Turn) -> Next:
        """No answer to the check-in: a counsellor is asked to check in; the message goes on."""
        queued, alerts = await self._desk.check_in_unanswered(session=turn.session, user=turn.user)
        self._leave(turn.user)
        if not queued:
            return Next(go_on=True)
        availability = await self._availability(turn)
        reply = self._safety.follow_up(
            turn.inbound.format, turn.language, "check_in_unanswered", availability
        )
        return Next([_without_buttons(reply), *alerts], go_on=True)

    # the conversation -------------------------------------------------------------------------

    async def _safe(self, turn: Turn) -> Reply:
        await self._desk.drop_check_in(session=turn.session, user=turn.user)
        self._leave(turn.user)
        return self._safety.follow_up(
            turn.inbound.format, turn.language, "safe", await self._availability(turn)
        )

    async def _say(self, turn: Turn, name: str) -> Reply:
        """A reply of the crisis conversation, never the same one twice in a row."""
        user, data = turn.user, _data(turn.user)
        said = data.get("said")
        variant = int(data.get("variant") or 0)
        if name == said or name == "still_here":
            name, variant = "still_here", variant + 1
        category = data.get("category")
        reply = self._safety.follow_up(
            turn.inbound.format,
            turn.language,
            name,
            await self._availability(turn),
            category=str(category) if category else None,
            variant=variant,
            friend=bool(data.get("friend")),
        )
        user.state_data = {**data, "said": name, "variant": variant, "at": self._now().isoformat()}
        return reply

    async def _availability(self, turn: Turn) -> Availability:
        try:
            async with turn.session.begin_nested():
                return await self._desk.availability(turn.session, turn.user.id)
        except Exception:
            log.exception("counsellors' availability unknown")
            return UNREACHABLE

    def _leave(self, user: UserDB) -> None:
        """Out of the crisis conversation (the case, if any, stays in the queue)."""
        user.state = STATE_WAITING if user.state == STATE_CRISIS else "idle"
        user.state_data = {}

    def _fresh(self, user: UserDB, quiet: timedelta) -> bool:
        at = _data(user).get("at")
        if not isinstance(at, str):
            return False
        try:
            since = as_utc(datetime.fromisoformat(at))
        except ValueError:
            return False
        return self._now() - since < quiet

    def _now(self) -> datetime:
        return as_utc(self._clock())


def _data(user: UserDB) -> dict[str, Any]:
    return dict(user.state_data or {})


def _set(user: UserDB, state: str, now: datetime, **values: object) -> None:
    user.state = state
    user.state_data = {"at": now.isoformat(), **{k: v for k, v in values.items() if v is not None}}


def _as_clear(crisis: Crisis) -> Crisis:
    return Crisis(True, crisis.category, crisis.matched, CLEAR, crisis.about_friend)


def _without_buttons(reply: Reply) -> Reply:
    return Reply(reply.text, calls=reply.calls)
