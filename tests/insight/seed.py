"""Known rows for the Insight figures, placed by Kenyan day within a 7-day period.

`seed(session, first=...)` writes them; the constants below are what `bot.insight` must compute
for the period starting on `first` (day 0) and ending six days later. Each kind of row also has one
copy a minute before the period, which must never be counted.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    NAIROBI_OFFSET,
    CaseDB,
    FeedbackDB,
    MessageDB,
    ReferralSearchDB,
    UnansweredDB,
    UserDB,
)
from bot.insight import start_of

USERS = [hashlib.sha256(f"young person {i}".encode()).hexdigest() for i in range(12)]
A, B, C, D, E, F, *OTHERS = USERS
SCRIPT = "<script>alert('x')</script> is this normal?"
BEFORE = (-1, 23, 59)  # a minute before the period starts


def kenyan_day(when: datetime) -> date:
    """The day in Kenya of a UTC time (what rows linked to nobody keep instead of a time)."""
    return (when + NAIROBI_OFFSET).date()


# (day, inbound messages, distinct people) for the days that have any
MESSAGES = {0: (2, 1), 2: (4, 1), 3: (7, 1), 4: (3, 1), 6: (3, 2)}
INTENTS = [("condoms", 3), ("alcohol", 2), ("hiv_testing", 2)]
UNANSWERED = [("condoms", 7), ("prep", 2), (None, 2)]
# one day, so in text order: rows linked to nobody keep no time or sequence within a day
CONDOM_EXAMPLES = ["fifth", "first", "fourth", "second", "seventh"]
# item, revision, 👍, 👎
HELPFULNESS = [
    ("condoms", 2, 2, 1),
    ("hiv_testing", 3, 0, 2),
    ("prep", None, 1, 1),
    ("condoms", 1, 1, 0),
]
CRISIS_BY_CATEGORY = [
    ("suicide", 6),
    ("self_harm", 1),
    ("sexual_violence", 0),
    ("immediate_danger", 2),
    ("overdose", 0),
    ("unsafe_abortion", 0),
    ("exploitation", 0),
]
CRISIS_PER_DAY = {2: 5, 5: 3, 6: 1}
CRISIS_MESSAGES = 3
COUNTIES = [("Nairobi", 6), ("Homa Bay", 1), ("Kisumu", 2), ("unknown", 1)]
SERVICES = [("hiv_testing", 7), ("condoms", 2), ("prep", 1)]
# priority: cases, waiting, claimed, median wait, p90 wait, closed, median handling (minutes)
CASE_TIMES = {
    "urgent": (9, 3, 6, 3.5, 15.0, 5, 50.0),
    "high": (1, 0, 1, 5.0, 5.0, 1, 15.0),
    "normal": (1, 1, 0, None, None, 0, None),
}


async def seed(session: AsyncSession, *, first: date) -> None:
    """Write the rows for the 7-day period whose first Kenyan day is `first`."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return start_of(first + timedelta(days=day)) + timedelta(hours=hour, minutes=minute)

    session.add_all(UserDB(id=u, channel="telegram", state="idle", state_data={}) for u in USERS)
    await session.flush()

    def inbound(user: str, when: datetime, intent: str | None, confidence: float | None) -> None:
        kind = "text" if confidence is not None else "button"
        session.add(
            MessageDB(
                user_id=user,
                direction="in",
                kind=kind,
                intent=intent,
                confidence=confidence,
                language="en",
                created_at=when,
            )
        )

    inbound(A, at(0, 0), "condoms", 0.9)  # Kenyan midnight: the first moment of the period
    inbound(A, at(0, 9), "condoms", 0.9)
    inbound(B, at(*BEFORE), "condoms", 0.9)
    inbound(B, at(6, 1), "condoms", 0.9)  # still day 5 in UTC
    inbound(C, at(6, 10), "hiv_testing", 0.4)  # the engine's threshold counts
    inbound(C, at(6, 11), "hiv_testing", 0.4)
    for hour in (8, 9):
        inbound(D, at(3, hour), "alcohol", 0.8)
    for minute in range(5):
        inbound(D, at(3, 10, minute), "prep", 0.39)  # unsure: not a top intent
    for minute in range(4):
        inbound(E, at(2, 10, minute), "stress", None)  # a button: no confidence
    for when in (at(4, 1), at(4, 2), at(4, 3), at(*BEFORE)):
        session.add(
            MessageDB(user_id=F, direction="in", kind="crisis", intent="suicide", created_at=when)
        )

    async def answer(item: str, revision: int | None, votes: dict[str, bool], day: int) -> None:
        message = MessageDB(
            user_id=A,
            direction="out",
            kind="answer",
            intent=item,
            content_id=item,
            content_revision=revision,
            created_at=at(0, 12),
        )
        session.add(message)
        await session.flush()
        when = at(*BEFORE) if day < 0 else at(day, 12)
        session.add_all(
            FeedbackDB(
                user_id=u, message_id=message.id, content_id=item, helpful=h, created_at=when
            )
            for u, h in votes.items()
        )

    await answer("condoms", 2, {A: True, B: True, C: False}, 1)
    await answer("condoms", 1, {D: True}, 1)
    await answer("prep", None, {E: True, F: False}, 2)
    await answer("hiv_testing", 3, {A: False, B: False}, 3)
    await answer("condoms", 2, {A: True}, -1)

    def unanswered(text: str, guess: str | None, when: datetime) -> None:
        session.add(UnansweredDB(text=text, language="en", guess=guess, day=kenyan_day(when)))

    for hour, word in enumerate(["first", "second", "third", "fourth", "fifth", "sixth"], 1):
        unanswered(f"the {word} condom question", "condoms", at(1, hour))
    unanswered("the seventh condom question", "condoms", at(1, 7))
    unanswered("is prep safe", "prep", at(2, 1))
    unanswered("prep for a week", "prep", at(2, 2))
    unanswered("what is the weather", None, at(3, 1))
    unanswered(SCRIPT, None, at(6, 1))
    unanswered("an old question", None, at(*BEFORE))

    def case(
        user: str,
        opened: datetime,
        *,
        source: str = "crisis",
        category: str | None = None,
        priority: str = "urgent",
        wait: int | None = None,
        handling: int | None = None,
    ) -> None:
        claimed = opened + timedelta(minutes=wait) if wait is not None else None
        closed = claimed + timedelta(minutes=handling) if claimed and handling else None
        status = "closed" if closed else "active" if claimed else "waiting"
        session.add(
            CaseDB(
                user_id=user,
                channel="telegram",
                language="en",
                source=source,
                category=category,
                priority=priority,
                status=status,
                opened_at=opened,
                claimed_at=claimed,
                closed_at=closed,
            )
        )

    for hour, (wait, handling) in enumerate([(1, 30), (2, 40), (3, 50), (4, 60), (10, 70)]):
        case(OTHERS[hour], at(2, hour + 1), category="suicide", wait=wait, handling=handling)
    case(OTHERS[5], at(5, 6), category="suicide", wait=20)
    case(A, at(5, 7), category="self_harm")
    case(B, at(5, 8), category="immediate_danger")
    case(C, at(6, 9), category="immediate_danger")
    case(D, at(*BEFORE), category="suicide", wait=1, handling=5)
    case(E, at(3, 1), source="request", priority="normal")
    case(F, at(3, 2), source="request", priority="high", wait=5, handling=15)

    def referral(service: str, county: str | None, when: datetime) -> None:
        session.add(ReferralSearchDB(service=service, county=county, day=kenyan_day(when)))

    for hour in range(6):
        referral("hiv_testing", "Nairobi", at(1, hour))
    referral("condoms", "Kisumu", at(2, 1))
    referral("condoms", "Kisumu", at(2, 2))
    referral("prep", "Homa Bay", at(3, 1))
    referral("hiv_testing", None, at(3, 2))
    referral("hiv_testing", "Nairobi", at(*BEFORE))
    await session.flush()
