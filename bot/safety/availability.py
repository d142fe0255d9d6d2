"""What the bot may honestly say about people: is a counsellor there, and where is this person?"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Availability:
    """Whether a counsellor will see this request soon, as the desk knows it right now.

    `stored` is False when the request could not be recorded (the database is down): then nobody
    is promised. `on_duty` means a counsellor is on duty and it is within hours. `position` is the
    young person's place in the queue, when they have a waiting case.
    """

    stored: bool
    on_duty: bool
    hours: str
    position: int | None = None

    @property
    def key(self) -> str:
        """`on_duty`, `off_duty` or `unreachable`: which honest line to say."""
        if not self.stored:
            return "unreachable"
        return "on_duty" if self.on_duty and self.position is not None else "off_duty"


UNREACHABLE = Availability(stored=False, on_duty=False, hours="")
