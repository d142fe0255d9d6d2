"""Who a crisis is about: the writer, or someone they speak of ("my friend says she wants to die").

Decided from who is speaking where the crisis is said, never from any friend word anywhere in the
message: a 4,000-character first-person message that mentions a friend once is still about the
writer. In the sentence that carries the crisis, the subject cue nearest the crisis words wins:
one inside them ("kill myself", "post my nudes", "anataka kufa"), else an object right after them
("he raped me", "raped her"), else the last one before them ("she wants to die"), else the writer.
When the crisis words are not known (a classifier's or a parser's signal), the message's cues
vote: someone else only when cues for others outnumber the writer's.

Cues are whole words of normalised text: the editable `friend_markers` of the rules file ("my
friend", "rafiki yangu"), English pronouns, and Kiswahili verb forms (a first-person subject or
object such as "nataka", "nilibakwa", "ananipiga"; a third-person subject such as "anataka",
"amejiua").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SELF = "self"
FRIEND = "friend"
_SENTENCE = re.compile(r"(?<=[.!?\n])\s*")
_SELF_WORDS = frozenset(
    [
        "i",
        "im",
        "my",
        "mine",
        "yangu",
        "zangu",
        "wangu",
        "changu",
        "vyangu",
        "langu",
        "ive",
        "me",
        "myself",
        "mimi",
        "mi",
        "nami",
        "mwenyewe",
        "sitaki",
        "siwezi",
        "sina",
        "sijui",
        "siko",
    ]
)
_FRIEND_WORDS = frozenset(
    ["she", "he", "her", "him", "herself", "himself", "they", "them", "themselves", "yeye", "wao"]
)
# Kiswahili: "ni-" / "n-" subject (nataka, nimejikata, nilibakwa, nitajiua, niko, nina),
# "-ni-" object after a subject and tense (ananipiga, alinibaka, walinibaka, amenigusa)
_OBJECTS = {"me": SELF, "mimi": SELF, "her": FRIEND, "him": FRIEND, "them": FRIEND}
_SELF_VERB = re.compile(r"(?:ni(?:li|me|na|ta|ki|ka|ko)|na(?:ji|ta|ku|ogopa|skia|fikiria))\w*")
_OBJECT_ME = re.compile(r"(?:(?:a|wa|u|m)(?:li|me|na|ta|ki|ka)|ku)ni\w{2,}")
_THIRD_VERB = re.compile(r"a(?:li|me|na|ta|ki)\w{3,}")


@dataclass(frozen=True)
class Cue:
    """A subject cue: where it starts and ends (character offsets) and whom it names."""

    start: int
    end: int
    subject: str


class Speaker:
    """Finds whom a crisis is about, given the friend markers of the rules file."""

    def __init__(self, friend_markers: list[str]) -> None:
        phrases = sorted({" ".join(m.split()) for m in friend_markers if m.strip()}, key=len)
        self._markers = (
            re.compile("|".join(rf"(?<= ){re.escape(p)}(?= )" for p in reversed(phrases)))
            if phrases
            else None
        )

    def cues(self, normalised: str) -> list[Cue]:
        """Every subject cue of a normalised text, in order."""
        found: list[Cue] = []
        taken: set[int] = set()
        if self._markers is not None:
            for match in self._markers.finditer(normalised):
                found.append(Cue(match.start(), match.end(), FRIEND))
                taken.update(range(match.start(), match.end()))
        for match in re.finditer(r"\S+", normalised):
            if match.start() in taken:
                continue
            subject = _word_subject(match.group(0))
            if subject is not None:
                found.append(Cue(match.start(), match.end(), subject))
        return sorted(found, key=lambda cue: cue.start)

    def about_friend(self, sentences: list[str], where: tuple[int, int, int] | None = None) -> bool:
        """Whether the crisis is about someone else.

        `sentences` are the message's normalised sentences; `where` is (sentence, start, end) of
        the crisis words when a rule found them, else None.
        """
        if where is not None and 0 <= where[0] < len(sentences):
            index, start, end = where
            return _nearest(self.cues(sentences[index]), sentences[index], start, end) == FRIEND
        subjects = [cue.subject for sentence in sentences for cue in self.cues(sentence)]
        return subjects.count(FRIEND) > subjects.count(SELF)


def sentences_of(text: str) -> list[str]:
    """The message cut into sentences (at . ! ? and line ends), raw."""
    return [part for part in _SENTENCE.split(text) if part.strip()]


def _word_subject(word: str) -> str | None:
    if word in _SELF_WORDS:
        return SELF
    if word in _FRIEND_WORDS:
        return FRIEND
    if _OBJECT_ME.fullmatch(word) or _SELF_VERB.fullmatch(word):
        return SELF
    if _THIRD_VERB.fullmatch(word):
        return FRIEND
    return None


def _nearest(cues: list[Cue], sentence: str, start: int, end: int) -> str:
    """The cue inside the crisis words, the object after them, the last before, or the writer."""
    inside = [c.subject for c in cues if c.start >= start and c.end <= end]
    if inside:  # "anataka kuniua": he wants to kill me, so the writer is the one in danger
        return SELF if SELF in inside else FRIEND
    following = sentence[end:].split(maxsplit=1)
    if following and following[0] in _OBJECTS:
        return _OBJECTS[following[0]]
    before = [c for c in cues if c.end <= start]
    return before[-1].subject if before else SELF
