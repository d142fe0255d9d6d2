"""Cases: a young person asks for a human; a counsellor takes the case and talks through the bot.

Both sides stay anonymous: counsellors see case numbers, young people see "Counsellor". The young
person's channel address is sealed (encrypted) in the case while it is open, so the bot can
write to them; it is forgotten once they have rated the chat, or a day after it closed.
Everything lives in the database: a restart loses no case, claim, message or timer.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import check_ins
from bot.cases import repository as cases
from bot.cases.seal import seal, unseal
from bot.content.render import Renderer
from bot.db.models import CaseDB, CounsellorDB, UserDB, as_utc, utcnow
from bot.dialogue import payloads
from bot.dialogue.addresses import telegram_address
from bot.dialogue.messages import Button, Reply
from bot.erasure import ErasureReport, erase_user
from bot.safety.availability import Availability

log = logging.getLogger(__name__)

NAIROBI = timezone(timedelta(hours=3))
# How long a check-in waits for an answer before a counsellor is asked to check in.
CHECK_IN_WAIT = timedelta(minutes=30)
COUNSELLOR_COMMANDS = frozenset({"duty", "queue", "next", "take", "note", "transfer", "close"})
RATINGS = ("1", "2", "3", "4", "5")
STATE_WAITING = "waiting_counsellor"
STATE_WITH = "with_counsellor"


@dataclass(frozen=True)
class DeskSettings:
    """What the desk needs from the settings."""

    secret: str
    hours: tuple[time, time]
    realert_after: timedelta


class Desk:
    """Builds every case reply for both sides; holds no per-user state."""

    def __init__(
        self, settings: DeskSettings, renderer: Renderer, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._settings = settings
        self._render = renderer
        self._clock = clock

    # the young person's side --------------------------------------------------------------

    async def request(
        self,
        *,
        session: AsyncSession,
        user: UserDB,
        channel: str,
        address: str,
        language: str,
        source: str = "request",
        priority: str = "normal",
        topic: str | None = None,
        category: str | None = None,
        matched: str | None = None,
    ) -> tuple[str, list[Reply]]:
        """Open (or reuse) the user's case; return their line and alerts for counsellors."""
        case, created = await cases.open_case(
            session=session,
            user_id=user.id,
            channel=channel,
            language=language,
            source=source,
            priority=priority,
            topic=topic,
            category=category,
            matched=matched,
            route=seal(self._settings.secret, address) if address else None,
        )
        # a crisis's conversation state belongs to the crisis flow (bot.dialogue.crisis)
        if case.status == "waiting" and user.state != STATE_WITH and source != "crisis":
            user.state = STATE_WAITING
        # a waiting case alerts unless its alert is still fresh (raising the priority clears it):
        # one frightened person's five messages are one alert, not five
        unalerted = case.status == "waiting" and (created or case.alerted_at is None)
        alerts = await self._alerts(session, [case]) if unalerted else []
        position = await cases.queue_position(session=session, case=case)
        values = {"position": position, "hours": self._hours_text()}
        if source == "crisis":
            return "", alerts
        if not created:
            return self._render.ui("case_already_waiting", language, **values), alerts
        on_duty = await cases.counsellors_on_duty(session=session)
        key = "case_waiting" if on_duty and self._in_hours(self._clock()) else "case_closed_hours"
        return self._render.ui(key, language, **values), alerts

    async def availability(self, session: AsyncSession, user_id: str | None) -> Availability:
        """Whether a counsellor is on duty in hours now, and the young person's queue place."""
        on_duty = bool(await cases.counsellors_on_duty(session=session))
        position = None
        if user_id is not None:
            case = await cases.open_case_of(session=session, user_id=user_id)
            if case is not None and case.status == "waiting":
                position = await cases.queue_position(session=session, case=case)
        return Availability(
            stored=True,
            on_duty=on_duty and self._in_hours(self._clock()),
            hours=self._hours_text(),
            position=position,
        )

    async def check_in(
        self,
        *,
        session: AsyncSession,
        user: UserDB,
        channel: str,
        address: str,
        language: str,
        category: str | None,
        matched: str | None,
    ) -> None:
        """Hold a check-in case for a possible crisis, unless they already have an open case."""
        if await cases.open_case_of(session=session, user_id=user.id) is not None:
            return
        await check_ins.open_check_in(
            session=session,
            user_id=user.id,
            channel=channel,
            language=language,
            category=category,
            matched=matched,
            route=seal(self._settings.secret, address) if address else None,
        )

    async def check_in_unanswered(
        self, *, session: AsyncSession, user: UserDB
    ) -> tuple[bool, list[Reply]]:
        """Queue the pending check-in as a normal case: (queued, alerts for counsellors)."""
        case = await check_ins.check_in_of(session=session, user_id=user.id)
        if case is None or not await check_ins.queue_check_in(
            session=session, case_id=case.id, priority="normal"
        ):
            return False, []
        return True, await self._alerts(session, [case])

    async def confirm_check_in(self, *, session: AsyncSession, user: UserDB) -> None:
        """ "Yes": the pending check-in joins the queue (the crisis request then raises it)."""
        case = await check_ins.check_in_of(session=session, user_id=user.id)
        if case is not None:
            await check_ins.queue_check_in(session=session, case_id=case.id, priority="urgent")

    async def drop_check_in(self, *, session: AsyncSession, user: UserDB) -> bool:
        """ "No, I'm okay": forget the pending check-in."""
        return await check_ins.drop_check_in(session=session, user_id=user.id)

    async def queue_unanswered_check_ins(self, session: AsyncSession) -> list[CaseDB]:
        """Check-ins nobody answered within CHECK_IN_WAIT join the queue as normal cases."""
        due = await check_ins.unanswered_check_ins(session=session, before=utcnow() - CHECK_IN_WAIT)
        return [
            case
            for case in due
            if await check_ins.queue_check_in(session=session, case_id=case.id, priority="normal")
        ]

    async def left(self, *, session: AsyncSession, user: UserDB, how: str) -> list[Reply]:
        """The young person left (a quick exit): their open case says so; a check-in is dropped.

        The case stays open: the card (and the transcript, in a live chat) tells the counsellor
        how they left, and a counsellor on Telegram in a live chat is told at once.
        """
        await check_ins.drop_check_in(session=session, user_id=user.id)
        case = await cases.open_case_of(session=session, user_id=user.id)
        if case is None:
            return []
        case.left_how, case.left_at = how, utcnow()
        if case.status != "active" or case.counsellor_id is None:
            return []
        notice = "The young person left by quick exit: the phone may be shared; write with care."
        await cases.add_transcript(session=session, case_id=case.id, sender="young", text=notice)
        counsellor = await session.get(CounsellorDB, case.counsellor_id)
        if counsellor is None or counsellor.telegram_id is None:
            return []
        body = f"Case {case.id}: {notice}"
        return [Reply(_staff(body).text, to=telegram_address(counsellor.telegram_id))]

    async def relay_from_young(
        self,
        *,
        session: AsyncSession,
        user: UserDB,
        text: str,
        crisis: str | None = None,
        possible: bool = False,
    ) -> list[Reply] | None:
        """The young person wrote during an active case: keep it and pass it to their counsellor.

        None when there is no active case; no reply when the counsellor reads on the web.
        """
        case = await cases.active_case_of_user(session=session, user_id=user.id)
        if case is None or case.counsellor_id is None:
            return None
        counsellor = await session.get(CounsellorDB, case.counsellor_id)
        if counsellor is None:
            return None
        flag = ""
        if crisis:
            flag = f"⚠️ possible crisis ({crisis}) — " if possible else f"🚨 CRISIS ({crisis}) — "
        await cases.add_transcript(
            session=session, case_id=case.id, sender="young", text=flag + text
        )
        if counsellor.telegram_id is None:
            return []  # the web inbox shows the transcript
        body = f"{flag}Case {case.id}: {text}"
        return [
            Reply(self._render.message("html", body), to=telegram_address(counsellor.telegram_id))
        ]

    async def rate(
        self, *, session: AsyncSession, user: UserDB, case_arg: str, rating: str, language: str
    ) -> Reply | None:
        """A rating button; None when it is stale or forged."""
        case_id = payloads.small_int(case_arg)
        if case_id is None or rating not in RATINGS:
            return None
        rated = await cases.rate_case(
            session=session, case_id=case_id, user_id=user.id, rating=int(rating)
        )
        if not rated:
            return None
        return Reply(self._render.message("html", self._render.ui("case_rated", language)))

    async def erase(
        self, *, session: AsyncSession, user_id: str, address: str
    ) -> tuple[ErasureReport, list[Reply]]:
        """Erase the young person's data (/delete); tell the counsellor who was talking with them.

        Only Telegram counsellors can be told: on the web console the case just leaves the inbox
        (the console has no channel to push a message to staff).
        """
        report = await erase_user(
            session=session, user_id=user_id, address=address or None, secret=self._settings.secret
        )
        notices = []
        for ended in report.ended:
            counsellor = await session.get(CounsellorDB, ended.counsellor_id)
            if counsellor is None or counsellor.telegram_id is None:
                continue
            body = (
                f"Case {ended.case_id}: the young person has left and deleted their data. "
                "The case is closed and its transcript deleted; your notes are kept, "
                "linked to nobody."
            )
            notices.append(
                Reply(
                    self._render.message("html", body), to=telegram_address(counsellor.telegram_id)
                )
            )
        return report, notices

    # the counsellor's side ----------------------------------------------------------------

    async def counsellor_turn(
        self,
        *,
        session: AsyncSession,
        counsellor: CounsellorDB,
        command: str,
        argument: str,
        text: str,
    ) -> list[Reply]:
        """A registered counsellor's command or message (always English: staff console)."""
        if command == "duty":
            on = argument.strip().lower() != "off"
            await cases.set_duty(session=session, counsellor_id=counsellor.id, on_duty=on)
            waiting = len(await cases.waiting_cases(session=session))
            state = "on" if on else "off"
            return [_staff(f"You are {state} duty. Waiting cases: {waiting}. /queue lists them.")]
        if command == "queue":
            return [await self._queue(session)]
        if command in ("next", "take"):
            return await self._claim(session, counsellor, command, argument)
        active = await cases.active_case_of_counsellor(session=session, counsellor_id=counsellor.id)
        if active is None:
            return [_staff("You have no active case. /queue lists waiting cases; /next takes one.")]
        if command == "note":
            if not argument.strip():
                return [_staff("Write the note after the command: /note TEXT")]
            await cases.add_note(
                session=session, case_id=active.id, counsellor_id=counsellor.id, text=argument
            )
            return [_staff(f"Note added to case {active.id}.")]
        if command == "transfer":
            return await self._transfer(session, counsellor, active)
        if command == "close":
            return await self._close(session, counsellor, active, argument)
        if command:
            return [
                _staff("Commands: /duty on|off, /queue, /next, /take N, /note, /transfer, /close")
            ]
        return await self._relay_to_young(session, active, text)

    async def _queue(self, session: AsyncSession) -> Reply:
        waiting = await cases.waiting_cases(session=session)
        if not waiting:
            return _staff("No one is waiting.")
        cards = [await self.card(session, case) for case in waiting[:10]]
        more = f"\n\n… and {len(waiting) - 10} more." if len(waiting) > 10 else ""
        return _staff("\n\n".join(cards) + more + "\n\n/next takes the most urgent.")

    async def _claim(
        self, session: AsyncSession, counsellor: CounsellorDB, command: str, argument: str
    ) -> list[Reply]:
        if command == "take":
            case_id = payloads.small_int(argument.strip())
            if case_id is None:
                return [_staff("Which case? /take N (see /queue)")]
            case = await cases.claim(session=session, case_id=case_id, counsellor_id=counsellor.id)
        else:
            case = await cases.claim_next(session=session, counsellor_id=counsellor.id)
        if case is None:
            active = await cases.active_case_of_counsellor(
                session=session, counsellor_id=counsellor.id
            )
            if active is not None:
                return [_staff(f"Close or /transfer case {active.id} first.")]
            return [_staff("No waiting case to take (someone else may have taken it).")]
        young = await session.get(UserDB, case.user_id)
        if young is not None:
            young.state = STATE_WITH
        card = await self.card(session, case)
        replies = [
            _staff(f"You have case {case.id}. Everything you write now goes to them.\n\n{card}")
        ]
        notice = self._to_young(case, "case_connected")
        return replies + ([notice] if notice else [])

    async def _relay_to_young(self, session: AsyncSession, case: CaseDB, text: str) -> list[Reply]:
        address = unseal(self._settings.secret, case.route or "")
        if address is None:
            return [_staff(f"Case {case.id}: the young person can no longer be reached.")]
        kept = await cases.add_transcript(
            session=session, case_id=case.id, sender="counsellor", text=text
        )
        label = self._render.ui("case_from_counsellor", case.language)
        receipt = kept.id if kept is not None else None
        return [Reply(self._render.message("html", text, title=label), to=address, receipt=receipt)]

    async def _transfer(
        self, session: AsyncSession, counsellor: CounsellorDB, case: CaseDB
    ) -> list[Reply]:
        if not await cases.transfer(session=session, case_id=case.id, counsellor_id=counsellor.id):
            return [_staff("That case is not yours to transfer.")]
        young = await session.get(UserDB, case.user_id)
        if young is not None:
            young.state = STATE_WAITING
        position = await cases.queue_position(session=session, case=case)
        notice = self._to_young(case, "case_transferred", position=position)
        alerts = await self._alerts(session, [case], exclude=counsellor.id)
        return [
            _staff(f"Case {case.id} is back in the queue."),
            *([notice] if notice else []),
            *alerts,
        ]

    async def _close(
        self, session: AsyncSession, counsellor: CounsellorDB, case: CaseDB, resolution: str
    ) -> list[Reply]:
        if not resolution.strip():
            return [_staff("Say how it ended: /close RESOLUTION")]
        closed = await cases.close_case(
            session=session, case_id=case.id, counsellor_id=counsellor.id, resolution=resolution
        )
        if closed is None:
            return [_staff("That case is not yours to close.")]
        young = await session.get(UserDB, case.user_id)
        if young is not None:
            young.state = "idle"
        replies = [_staff(f"Case {case.id} closed. Thank you.")]
        address = unseal(self._settings.secret, case.route or "")
        if address is not None:
            rows = (tuple(Button(r, payloads.encode("rate", str(case.id), r)) for r in RATINGS),)
            body = self._render.ui("case_closed_rate", case.language)
            replies.append(Reply(self._render.message("html", body), rows, to=address))
        return replies

    # alerts -------------------------------------------------------------------------------

    async def expire_waiting(self, session: AsyncSession) -> list[Reply]:
        """Close cases nobody took within WAIT_LIMIT; tell each young person, kindly, where to
        find someone now (the 24-hour helplines) and how to ask again."""
        before = utcnow() - cases.WAIT_LIMIT
        replies = []
        for case_id in await cases.stale_waiting(session=session, before=before):
            expired = await cases.expire_case(session=session, case_id=case_id, before=before)
            if expired is None:
                continue  # a counsellor took it meanwhile
            case, route = expired
            young = await session.get(UserDB, case.user_id) if case.user_id else None
            if young is not None and young.state == STATE_WAITING:
                young.state = "idle"
            address = unseal(self._settings.secret, route or "")
            if address is not None:
                body = self._render.ui("case_expired", case.language)
                replies.append(Reply(self._render.message("html", body), to=address))
        return replies

    async def due_alerts(self, session: AsyncSession) -> list[Reply]:
        """Cases nobody has taken: expire the stale ones, alert on-duty counsellors again about
        the others, and update the young person."""
        await self.queue_unanswered_check_ins(session)
        expired = await self.expire_waiting(session)
        due = await cases.cases_to_alert(
            session=session, now=utcnow(), realert_after=self._settings.realert_after
        )
        again = {case.id for case in due if case.alerted_at is not None}
        if not await cases.counsellors_on_duty(session=session):
            return expired  # the others are kept for when someone comes on duty
        replies = expired + await self._alerts(session, due)
        for case in due:
            if case.id not in again:
                continue  # a first alert (someone just came on duty) needs no apology
            position = await cases.queue_position(session=session, case=case)
            notice = self._to_young(case, "case_still_waiting", position=position)
            if notice:
                replies.append(notice)
        return replies

    async def _alerts(
        self, session: AsyncSession, due: Sequence[CaseDB], exclude: int | None = None
    ) -> list[Reply]:
        on_duty = [c for c in await cases.counsellors_on_duty(session=session) if c.id != exclude]
        if not due or not on_duty:
            return []
        replies = []
        for case in due:
            card = await self.card(session, case)
            head = "🚨 URGENT case waiting" if case.priority == "urgent" else "A case is waiting"
            body = f"{head}\n\n{card}\n\n/take {case.id} or /next"
            replies += [
                Reply(self._render.message("html", body), to=telegram_address(c.telegram_id))
                for c in on_duty
                if c.telegram_id is not None  # web counsellors see the queue in the inbox
            ]
        await cases.mark_alerted(session=session, case_ids=[c.id for c in due], now=utcnow())
        return replies

    async def card(self, session: AsyncSession, case: CaseDB) -> str:
        """The context card: what a counsellor needs before answering, and no identity."""
        waited = max(0, int((utcnow() - as_utc(case.opened_at)).total_seconds() // 60))
        answered = (
            await cases.recent_answers(session=session, user_id=case.user_id)
            if case.user_id is not None
            else []
        )
        given = ", ".join(answered) or "none"
        lines = [
            f"Case {case.id} · {case.priority} · waiting {waited} min",
            f"language {case.language}; topic {case.topic or '-'}; crisis {case.category or '-'}",
            f"bot already answered: {given}",
        ]
        if case.left_how == "quick_exit":
            lines.append("left by quick exit: the phone may be shared; write with care")
        return "\n".join(lines)

    def _to_young(self, case: CaseDB, key: str, **values: object) -> Reply | None:
        address = unseal(self._settings.secret, case.route or "")
        if address is None:
            return None
        body = self._render.ui(key, case.language, **values)
        return Reply(self._render.message("html", body), to=address)

    def _in_hours(self, now: datetime) -> bool:
        start, end = self._settings.hours
        local = now.astimezone(NAIROBI).time()
        return start <= local < end

    def _hours_text(self) -> str:
        start, end = self._settings.hours
        return f"{start:%H:%M}-" + ("24:00" if end == time.max else f"{end:%H:%M}")


def _staff(text: str) -> Reply:
    """A line for a counsellor: plain text escaped for Telegram's HTML parse mode."""
    return Reply(html.escape(text, quote=False))
