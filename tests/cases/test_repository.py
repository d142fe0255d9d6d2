"""The case queue and the counsellors' roster on SQLite: every rule of bot.cases.repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases import repository as cases
from bot.db.models import CaseDB, CaseMessageDB, CaseNoteDB, CounsellorDB
from bot.db.repository import get_or_create_user

Sessions = async_sessionmaker[AsyncSession]
YOUNG = "y" * 64
OTHER = "o" * 64


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives times back without their (UTC) offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def young(session: AsyncSession, user_id: str = YOUNG) -> str:
    await get_or_create_user(session=session, user_id=user_id, channel="telegram")
    return user_id


async def open_for(
    sessions: Sessions,
    user_id: str,
    priority: str = "normal",
    *,
    opened_at: datetime | None = None,
    route: str | None = "sealed-route",
) -> int:
    """Open a case for a new young person in its own transaction; return its id."""
    async with sessions() as session, session.begin():
        await young(session, user_id)
        case, created = await cases.open_case(
            session=session,
            user_id=user_id,
            channel="telegram",
            language="en",
            source="request",
            priority=priority,
            route=route,
        )
        assert created
        if opened_at is not None:
            case.opened_at = opened_at
        return case.id


async def counsellor(sessions: Sessions, telegram_id: int, name: str = "Staff") -> int:
    async with sessions() as session, session.begin():
        added = await cases.add_counsellor(session=session, telegram_id=telegram_id, name=name)
        return added.id


async def load(sessions: Sessions, case_id: int) -> CaseDB:
    async with sessions() as session:
        case = await session.get(CaseDB, case_id)
        assert case is not None
        return case


async def claimed(sessions: Sessions, counsellor_id: int, case_id: int | None = None) -> int:
    """Claim (a given case, or the next one) in its own transaction; return the case id."""
    async with sessions() as session, session.begin():
        if case_id is None:
            case = await cases.claim_next(session=session, counsellor_id=counsellor_id)
        else:
            case = await cases.claim(session=session, case_id=case_id, counsellor_id=counsellor_id)
        assert case is not None
        return case.id


# opening cases ---------------------------------------------------------------------------------


async def test_a_young_person_has_one_open_case_at_a_time(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await young(session)
        first, created = await cases.open_case(
            session=session,
            user_id=YOUNG,
            channel="telegram",
            language="sw",
            source="request",
            priority="normal",
            topic="hiv_testing",
            route="route-1",
        )
        assert created and first.status == "waiting" and first.opened_at is not None
        assert (first.language, first.topic, first.route) == ("sw", "hiv_testing", "route-1")
        assert first.last_crisis_at is None and first.counsellor_id is None
        again, created = await cases.open_case(
            session=session,
            user_id=YOUNG,
            channel="telegram",
            language="en",
            source="request",
            priority="normal",
        )
        assert not created and again.id == first.id
        assert await cases.open_case_of(session=session, user_id=YOUNG) is first
        assert await cases.open_case_of(session=session, user_id=OTHER) is None
        assert await session.scalar(select(func.count()).select_from(CaseDB)) == 1


async def test_a_higher_priority_raises_the_open_case_and_a_lower_one_does_not(
    sessions: Sessions,
) -> None:
    case_id = await open_for(sessions, YOUNG, "normal")
    async with sessions() as session, session.begin():

        async def reopen(priority: str, source: str = "request", **extra: str) -> CaseDB:
            case, created = await cases.open_case(
                session=session,
                user_id=YOUNG,
                channel="telegram",
                language="en",
                source=source,
                priority=priority,
                **extra,
            )
            assert not created and case.id == case_id
            return case

        assert (await reopen("high", topic="depression")).priority == "high"
        case = await reopen("normal", topic="condoms", route="route-2")
        assert (case.priority, case.topic, case.route) == ("high", "depression", "route-2")
        case = await reopen("urgent", "crisis", category="suicide", matched="rule:suicide:1")
        assert (case.priority, case.category, case.matched) == (
            "urgent",
            "suicide",
            "rule:suicide:1",
        )
        assert case.last_crisis_at is not None
        case = await reopen("high", "crisis", category="self_harm", matched="model:self_harm")
        assert (case.priority, case.category, case.matched) == (
            "urgent",
            "suicide",
            "rule:suicide:1",
        )
        assert case.route == "route-2", "no new route keeps the old one"


async def test_raising_a_waiting_case_alerts_counsellors_again(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG, "normal")
    async with sessions() as session, session.begin():
        await cases.mark_alerted(session=session, case_ids=[case_id], now=datetime.now(UTC))
        case, _ = await cases.open_case(
            session=session,
            user_id=YOUNG,
            channel="telegram",
            language="en",
            source="crisis",
            priority="urgent",
            category="suicide",
        )
        assert case.alerted_at is None
    assert (await load(sessions, case_id)).alerted_at is None


async def test_an_unknown_priority_or_an_oversized_route_is_refused(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await young(session)
        for priority, route in (("asap", None), ("normal", "x" * 513)):
            with pytest.raises(ValueError):
                await cases.open_case(
                    session=session,
                    user_id=YOUNG,
                    channel="telegram",
                    language="en",
                    source="request",
                    priority=priority,
                    route=route,
                )


async def test_after_a_case_closes_the_next_request_opens_a_new_one(sessions: Sessions) -> None:
    first = await open_for(sessions, YOUNG)
    staff = await counsellor(sessions, 1)
    await claimed(sessions, staff, first)
    async with sessions() as session, session.begin():
        assert await cases.close_case(
            session=session, case_id=first, counsellor_id=staff, resolution="done"
        )
        assert await cases.open_case_of(session=session, user_id=YOUNG) is None
        case, created = await cases.open_case(
            session=session,
            user_id=YOUNG,
            channel="telegram",
            language="en",
            source="request",
            priority="normal",
        )
        assert created and case.id != first


# the queue -------------------------------------------------------------------------------------


async def test_the_queue_is_ordered_by_priority_then_waiting_time(sessions: Sessions) -> None:
    base = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    old_normal = await open_for(sessions, "n1" * 32, "normal", opened_at=base)
    new_urgent = await open_for(sessions, "u1" * 32, "urgent", opened_at=base + timedelta(hours=2))
    high = await open_for(sessions, "h1" * 32, "high", opened_at=base + timedelta(minutes=5))
    old_urgent = await open_for(sessions, "u2" * 32, "urgent", opened_at=base + timedelta(hours=1))
    new_normal = await open_for(sessions, "n2" * 32, "normal", opened_at=base + timedelta(hours=3))
    tie = await open_for(sessions, "n3" * 32, "normal", opened_at=base + timedelta(hours=3))
    expected = [old_urgent, new_urgent, high, old_normal, new_normal, tie]
    async with sessions() as session:
        waiting = await cases.waiting_cases(session=session)
        assert [c.id for c in waiting] == expected
        positions = [await cases.queue_position(session=session, case=c) for c in waiting]
        assert positions == [1, 2, 3, 4, 5, 6]
    staff = await counsellor(sessions, 1)
    assert await claimed(sessions, staff) == old_urgent
    async with sessions() as session:
        taken = await session.get(CaseDB, old_urgent)
        assert taken is not None
        assert await cases.queue_position(session=session, case=taken) == 0
        assert [c.id for c in await cases.waiting_cases(session=session)] == expected[1:]


# claims ----------------------------------------------------------------------------------------


async def test_claim_next_takes_the_most_urgent_case_and_marks_it_active(
    sessions: Sessions,
) -> None:
    normal = await open_for(sessions, "n1" * 32, "normal")
    urgent = await open_for(sessions, "u1" * 32, "urgent")
    anna, ben = await counsellor(sessions, 1, "Anna"), await counsellor(sessions, 2, "Ben")
    async with sessions() as session, session.begin():
        case = await cases.claim_next(session=session, counsellor_id=anna)
        assert case is not None and case.id == urgent
        assert (case.status, case.counsellor_id) == ("active", anna)
        assert case.claimed_at is not None
        assert await cases.active_case_of_counsellor(session=session, counsellor_id=anna) is case
        assert await cases.active_case_of_user(session=session, user_id="u1" * 32) is case
        assert await cases.active_case_of_user(session=session, user_id="n1" * 32) is None
    assert await claimed(sessions, ben) == normal
    async with sessions() as session:
        assert (
            await cases.claim_next(session=session, counsellor_id=await counsellor(sessions, 3))
            is None
        )


async def test_a_counsellor_with_an_active_case_cannot_take_another(sessions: Sessions) -> None:
    first = await open_for(sessions, "a1" * 32)
    second = await open_for(sessions, "a2" * 32)
    anna = await counsellor(sessions, 1)
    assert await claimed(sessions, anna, first) == first
    async with sessions() as session, session.begin():
        assert await cases.claim_next(session=session, counsellor_id=anna) is None
        assert await cases.claim(session=session, case_id=second, counsellor_id=anna) is None
    assert (await load(sessions, second)).status == "waiting"


async def test_a_taken_closed_or_missing_case_cannot_be_claimed(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG)
    anna, ben = await counsellor(sessions, 1), await counsellor(sessions, 2)
    await claimed(sessions, anna, case_id)
    async with sessions() as session, session.begin():
        assert await cases.claim(session=session, case_id=case_id, counsellor_id=ben) is None
        assert await cases.claim(session=session, case_id=case_id, counsellor_id=anna) is None
        assert await cases.claim(session=session, case_id=999, counsellor_id=ben) is None
        assert await cases.close_case(
            session=session, case_id=case_id, counsellor_id=anna, resolution="ok"
        )
        assert await cases.claim(session=session, case_id=case_id, counsellor_id=ben) is None
    assert (await load(sessions, case_id)).counsellor_id == anna


async def test_an_unknown_counsellor_claims_nothing(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG)
    async with sessions() as session, session.begin():
        assert await cases.claim_next(session=session, counsellor_id=404) is None
        assert await cases.claim(session=session, case_id=case_id, counsellor_id=404) is None
    assert (await load(sessions, case_id)).status == "waiting"


# transcript and notes --------------------------------------------------------------------------


async def test_the_transcript_keeps_both_sides_and_the_first_reply_time(
    sessions: Sessions,
) -> None:
    case_id = await open_for(sessions, YOUNG)
    anna = await counsellor(sessions, 1)
    async with sessions() as session, session.begin():
        assert await cases.add_transcript(
            session=session, case_id=case_id, sender="young", text="is anyone there?"
        )
    await claimed(sessions, anna, case_id)
    async with sessions() as session, session.begin():
        await cases.add_transcript(session=session, case_id=case_id, sender="young", text="hi")
        case = await session.get(CaseDB, case_id)
        assert case is not None and case.first_reply_at is None, "a young person's is no reply"
        await cases.add_transcript(
            session=session, case_id=case_id, sender="counsellor", text="hello, I'm here"
        )
    first_reply = (await load(sessions, case_id)).first_reply_at
    assert first_reply is not None
    async with sessions() as session, session.begin():
        await cases.add_transcript(session=session, case_id=case_id, sender="counsellor", text="…")
        messages = await cases.transcript(session=session, case_id=case_id)
        assert [(m.sender, m.text) for m in messages] == [
            ("young", "is anyone there?"),
            ("young", "hi"),
            ("counsellor", "hello, I'm here"),
            ("counsellor", "…"),
        ]
        with pytest.raises(ValueError):
            await cases.add_transcript(session=session, case_id=case_id, sender="bot", text="x")
    assert (await load(sessions, case_id)).first_reply_at == first_reply


async def test_closing_deletes_the_transcript_of_that_case_only(sessions: Sessions) -> None:
    mine, other = await open_for(sessions, YOUNG), await open_for(sessions, OTHER)
    anna, ben = await counsellor(sessions, 1), await counsellor(sessions, 2)
    await claimed(sessions, anna, mine)
    await claimed(sessions, ben, other)
    async with sessions() as session, session.begin():
        for case_id in (mine, other):
            await cases.add_transcript(session=session, case_id=case_id, sender="young", text="a")
            await cases.add_transcript(
                session=session, case_id=case_id, sender="counsellor", text="b"
            )
        await cases.add_note(session=session, case_id=mine, counsellor_id=anna, text="follow up")
        assert await cases.close_case(
            session=session, case_id=mine, counsellor_id=anna, resolution="referred"
        )
    async with sessions() as session, session.begin():
        assert await cases.transcript(session=session, case_id=mine) == []
        assert len(await cases.transcript(session=session, case_id=other)) == 2
        count = select(func.count()).select_from(CaseMessageDB)
        assert await session.scalar(count.where(CaseMessageDB.case_id == mine)) == 0
        assert [n.text for n in await cases.notes(session=session, case_id=mine)] == ["follow up"]
        late = await cases.add_transcript(session=session, case_id=mine, sender="young", text="?")
        assert late is None, "a closed case keeps no transcript"
        assert await cases.transcript(session=session, case_id=mine) == []


async def test_notes_are_kept_cut_to_length_and_need_a_case(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG)
    anna = await counsellor(sessions, 1)
    async with sessions() as session, session.begin():
        note = await cases.add_note(
            session=session, case_id=case_id, counsellor_id=anna, text="n" * 2500
        )
        assert note is not None and len(note.text) == 2000 and note.counsellor_id == anna
        await cases.add_note(session=session, case_id=case_id, counsellor_id=anna, text="second")
        assert (
            await cases.add_note(session=session, case_id=999, counsellor_id=anna, text="x") is None
        )
        with pytest.raises(ValueError):
            await cases.add_note(session=session, case_id=case_id, counsellor_id=anna, text="  ")
        assert [len(n.text) for n in await cases.notes(session=session, case_id=case_id)] == [
            2000,
            6,
        ]


# transfer, close, rate -------------------------------------------------------------------------


async def test_only_the_claiming_counsellor_can_transfer_and_the_case_keeps_its_place(
    sessions: Sessions,
) -> None:
    base = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    early = await open_for(sessions, YOUNG, opened_at=base)
    later = await open_for(sessions, OTHER, opened_at=base + timedelta(minutes=30))
    anna, ben = await counsellor(sessions, 1), await counsellor(sessions, 2)
    await claimed(sessions, anna, early)
    async with sessions() as session, session.begin():
        await cases.mark_alerted(session=session, case_ids=[early], now=datetime.now(UTC))
        assert not await cases.transfer(session=session, case_id=early, counsellor_id=ben)
        case = await session.get(CaseDB, early)
        assert case is not None and case.status == "active"
        assert await cases.transfer(session=session, case_id=early, counsellor_id=anna)
        # the caller's object shows the new state
        assert (case.status, case.counsellor_id, case.claimed_at, case.alerted_at) == (
            "waiting",
            None,
            None,
            None,
        )
        assert await cases.queue_position(session=session, case=case) == 1
        assert not await cases.transfer(session=session, case_id=early, counsellor_id=anna)
        assert await cases.active_case_of_counsellor(session=session, counsellor_id=anna) is None
    assert await claimed(sessions, ben) == early, "ahead of the later case"
    assert (await load(sessions, later)).status == "waiting"


async def test_only_the_claiming_counsellor_can_close_and_only_once(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG, route="sealed")
    waiting = await open_for(sessions, OTHER)
    anna, ben = await counsellor(sessions, 1), await counsellor(sessions, 2)
    await claimed(sessions, anna, case_id)
    async with sessions() as session, session.begin():
        assert (
            await cases.close_case(
                session=session, case_id=case_id, counsellor_id=ben, resolution="x"
            )
            is None
        )
        assert (
            await cases.close_case(
                session=session, case_id=waiting, counsellor_id=anna, resolution="x"
            )
            is None
        ), "a waiting case has no counsellor to close it"
        closed = await cases.close_case(
            session=session, case_id=case_id, counsellor_id=anna, resolution="r" * 600
        )
        assert closed is not None and closed.status == "closed" and closed.closed_at is not None
        assert closed.resolution == "r" * 500
        assert closed.route == "sealed", "kept until the young person rates the chat"
        assert (
            await cases.close_case(
                session=session, case_id=case_id, counsellor_id=anna, resolution="y"
            )
            is None
        )
        assert await cases.active_case_of_counsellor(session=session, counsellor_id=anna) is None
    assert (await load(sessions, case_id)).resolution == "r" * 500
    assert await claimed(sessions, anna) == waiting, "free again after closing"


async def test_only_the_young_person_rates_their_closed_case_once_from_1_to_5(
    sessions: Sessions,
) -> None:
    case_id = await open_for(sessions, YOUNG, route="sealed")
    anna = await counsellor(sessions, 1)
    await claimed(sessions, anna, case_id)
    async with sessions() as session, session.begin():
        rate = cases.rate_case
        assert not await rate(session=session, case_id=case_id, user_id=YOUNG, rating=5), "open"
        await cases.close_case(
            session=session, case_id=case_id, counsellor_id=anna, resolution="ok"
        )
        assert not await rate(session=session, case_id=case_id, user_id=OTHER, rating=5)
        assert not await rate(session=session, case_id=999, user_id=YOUNG, rating=5)
        for out_of_range in (0, 6, -1, 10):
            assert not await rate(
                session=session, case_id=case_id, user_id=YOUNG, rating=out_of_range
            )
        assert await rate(session=session, case_id=case_id, user_id=YOUNG, rating=4)
        assert not await rate(session=session, case_id=case_id, user_id=YOUNG, rating=5), "twice"
    case = await load(sessions, case_id)
    assert (case.rating, case.route) == (4, None)


async def test_forget_route_drops_the_sealed_address(sessions: Sessions) -> None:
    case_id = await open_for(sessions, YOUNG, route="sealed")
    async with sessions() as session, session.begin():
        case = await session.get(CaseDB, case_id)
        await cases.forget_route(session=session, case_id=case_id)
        assert case is not None and case.route is None
    assert (await load(sessions, case_id)).route is None


# alerts ----------------------------------------------------------------------------------------


async def test_alerts_pick_waiting_cases_never_or_long_ago_alerted(sessions: Sessions) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    base = now - timedelta(hours=1)
    never = await open_for(sessions, "a1" * 32, "normal", opened_at=base)
    recent = await open_for(sessions, "a2" * 32, "urgent", opened_at=base)
    long_ago = await open_for(sessions, "a3" * 32, "urgent", opened_at=base + timedelta(minutes=1))
    taken = await open_for(sessions, "a4" * 32, "urgent", opened_at=base)
    await claimed(sessions, await counsellor(sessions, 1), taken)
    every = timedelta(minutes=10)
    async with sessions() as session, session.begin():
        await cases.mark_alerted(session=session, case_ids=[recent], now=now - timedelta(minutes=3))
        await cases.mark_alerted(
            session=session, case_ids=[long_ago], now=now - timedelta(minutes=11)
        )
        await cases.mark_alerted(session=session, case_ids=[], now=now)
    async with sessions() as session, session.begin():
        due = await cases.cases_to_alert(session=session, now=now, realert_after=every)
        assert [c.id for c in due] == [long_ago, never], "queue order"
        await cases.mark_alerted(session=session, case_ids=[c.id for c in due], now=now)
        assert all(aware(c.alerted_at) == now for c in due)
        assert await cases.cases_to_alert(session=session, now=now, realert_after=every) == []
        later = now + timedelta(minutes=11)
        due = await cases.cases_to_alert(session=session, now=later, realert_after=every)
        assert [c.id for c in due] == [recent, long_ago, never]
        # the same instant in Nairobi time selects the same cases
        nairobi = later.astimezone(timezone(timedelta(hours=3)))
        again = await cases.cases_to_alert(session=session, now=nairobi, realert_after=every)
        assert [c.id for c in again] == [recent, long_ago, never]


# counsellors -----------------------------------------------------------------------------------


async def test_counsellors_are_added_once_listed_and_found(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        anna = await cases.add_counsellor(session=session, telegram_id=5_000_000_001, name=" Anna ")
        ben = await cases.add_counsellor(session=session, telegram_id=42, name="Ben")
        assert (anna.name, anna.on_duty, anna.telegram_id) == ("Anna", False, 5_000_000_001)
        renamed = await cases.add_counsellor(
            session=session, telegram_id=5_000_000_001, name="Anna W."
        )
        assert renamed.id == anna.id and renamed.name == "Anna W."
        for bad in ("", "   ", "x" * 81):
            with pytest.raises(ValueError):
                await cases.add_counsellor(session=session, telegram_id=7, name=bad)
    async with sessions() as session:
        listed = await cases.list_counsellors(session=session)
        assert [(c.id, c.name) for c in listed] == [(anna.id, "Anna W."), (ben.id, "Ben")]
        found = await cases.counsellor_by_telegram_id(session=session, telegram_id=42)
        assert found is not None and found.id == ben.id
        assert await cases.counsellor_by_telegram_id(session=session, telegram_id=43) is None


async def test_duty_decides_who_is_alerted(sessions: Sessions) -> None:
    anna, ben = await counsellor(sessions, 1, "Anna"), await counsellor(sessions, 2, "Ben")
    async with sessions() as session, session.begin():
        assert await cases.counsellors_on_duty(session=session) == []
        assert await cases.set_duty(session=session, counsellor_id=ben, on_duty=True)
        assert await cases.set_duty(session=session, counsellor_id=anna, on_duty=True)
        assert [c.id for c in await cases.counsellors_on_duty(session=session)] == [anna, ben]
        assert await cases.set_duty(session=session, counsellor_id=anna, on_duty=False)
        assert [c.id for c in await cases.counsellors_on_duty(session=session)] == [ben]
        assert not await cases.set_duty(session=session, counsellor_id=404, on_duty=True)


async def test_removing_a_counsellor_returns_their_case_to_the_queue(sessions: Sessions) -> None:
    active = await open_for(sessions, YOUNG)
    done = await open_for(sessions, OTHER)
    anna = await counsellor(sessions, 1)
    await claimed(sessions, anna, done)
    async with sessions() as session, session.begin():
        await cases.add_note(session=session, case_id=done, counsellor_id=anna, text="note")
        await cases.close_case(session=session, case_id=done, counsellor_id=anna, resolution="ok")
    await claimed(sessions, anna, active)
    async with sessions() as session, session.begin():
        assert await cases.remove_counsellor(session=session, telegram_id=1)
        assert not await cases.remove_counsellor(session=session, telegram_id=1)
        assert await cases.list_counsellors(session=session) == []
    back, closed = await load(sessions, active), await load(sessions, done)
    assert (back.status, back.counsellor_id, back.claimed_at) == ("waiting", None, None)
    assert (closed.status, closed.counsellor_id) == ("closed", None)
    async with sessions() as session:
        note = await session.scalar(select(CaseNoteDB))
        assert note is not None and note.counsellor_id is None and note.text == "note"
        assert await session.scalar(select(func.count()).select_from(CounsellorDB)) == 0


async def test_recent_answers_are_the_bots_latest_intents_without_repeats(
    sessions: Sessions,
) -> None:
    from bot.db.repository import log_message

    async with sessions() as session, session.begin():
        await get_or_create_user(session=session, user_id=YOUNG, channel="telegram")
        for intent in ("hiv_testing", "hiv_prep", "hiv_testing", None):
            await log_message(
                session=session, user_id=YOUNG, direction="out", kind="answer", intent=intent
            )
        await log_message(session=session, user_id=YOUNG, direction="in", kind="text", intent="sti")
        answered = await cases.recent_answers(session=session, user_id=YOUNG)
    assert answered == ["hiv_testing", "hiv_prep"]
