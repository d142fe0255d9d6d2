"""Crisis rules: editable phrases in `content/safety/rules.yml`, matched before anything else.

The message is normalised (lower case, accents and punctuation removed, long letter runs shortened),
then each category's phrases are matched as whole words; `*` in a phrase stands for one word,
`**` for none to three and `...` for any number. An exception (an idiom such as "this exam is
killing me") masks the words it matches for that category only, so "this exam is killing me and
i want to kill myself" still fires.
A frame (a film or the news, a school assignment, an experience that is over, a joke, "someday")
says the crisis words are not about a present risk and quiets any signal, the rules' or the
NLU's, unless an urgent marker ("tonight", "i want to", "again", "nisaidie") is also present;
a first-person disclosure ("he raped me", "nilibakwa") overrules every frame but a resolved past.
Pure, in memory and fast: it never needs the database, the NLU server or the network.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nlu.parser import CRISIS_CATEGORIES, Crisis

# The frame kind for experiences that are over: a disclosure ("he raped me") does not overrule it.
RESOLVED = "resolved"
# When several categories fire, the answer follows the most urgent.
PRIORITY = ("immediate_danger", "suicide", "sexual_violence", "self_harm")
# libyaml's safe loader when PyYAML has it: the rules file is large
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REPEATS = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+")
# Laughing emoji become the word "lol" (a joke frame can then name them); other emoji are dropped.
_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f639\U0001f601]")


class SafetyRulesError(ValueError):
    """The rules file is malformed; the message says where."""


@lru_cache(maxsize=64)  # the rules, the classifier's frames and the NLU's check share one message
def normalise(text: str) -> str:
    """`' Nataka KUJIUAAA!!'` → `' nataka kujiuaa '` (spaces around, for whole-word matching)."""
    lowered = text.lower()
    if lowered.isascii():
        plain = lowered
    else:
        decomposed = unicodedata.normalize("NFKD", _LAUGHING.sub(" lol ", lowered))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _REPEATS.sub(r"\1\1", plain.replace("_", " "))
    return " " + " ".join(_NON_WORD.sub(" ", plain).split()) + " "


WILDCARDS = {"*": r"\S+", "**": r"(?: \S+){0,3}", "...": r"(?: \S+)*?"}


def phrase_pattern(phrase: str) -> str:
    """A regex for one phrase over normalised text; raises SafetyRulesError when it is empty.

    `*` is exactly one word, `**` is zero to three words, `...` is any number of words.
    """
    words = [w if w in WILDCARDS else normalise(w).strip() for w in phrase.split()]
    words = [w for w in " ".join(words).split()]
    while words and words[0] in ("**", "..."):
        words.pop(0)
    while words and words[-1] in ("**", "..."):
        words.pop()
    if not words or all(w == "*" for w in words):
        raise SafetyRulesError(f"phrase {phrase!r} has no words")
    pattern = ""
    for word in words:
        if word in ("**", "..."):
            pattern += WILDCARDS[word]
        else:
            pattern += (" " if pattern else "") + (
                WILDCARDS["*"] if word == "*" else re.escape(word)
            )
    return r"(?<= )" + pattern + r"(?= )"


class Rule:
    """One phrase: its text (for audit), its regex (compiled on first use), its literal words."""

    __slots__ = ("_pattern", "key", "phrase", "source", "words")

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase
        self.source = phrase_pattern(phrase)
        literal = {normalise(w).strip() for w in phrase.split() if w not in WILDCARDS}
        self.words = frozenset(w for w in literal if w)
        # the longest literal word indexes the rule: a message without it cannot match
        self.key = max(self.words, key=len)
        self._pattern: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex (thousands of rules load fast; only candidates get compiled)."""
        if self._pattern is None:
            self._pattern = re.compile(self.source)
        return self._pattern


class RuleSet:
    """Rules indexed by their key word, tried in file order."""

    def __init__(self, phrases: list[str]) -> None:
        self.rules = tuple(Rule(p) for p in phrases)
        index: dict[str, list[int]] = {}
        for position, rule in enumerate(self.rules):
            index.setdefault(rule.key, []).append(position)
        self._index = index

    def candidates(self, words: set[str]) -> list[Rule]:
        """The rules whose literal words all occur in the message, in file order."""
        positions = sorted(p for w in words for p in self._index.get(w, ()))
        return [r for r in (self.rules[p] for p in positions) if r.words <= words]

    def search(self, text: str, words: set[str]) -> Rule | None:
        """The first rule that matches `text` (normalised), if any."""
        return next((r for r in self.candidates(words) if r.pattern.search(text)), None)

    def compile_all(self) -> None:
        """Compile every regex now (the validator does, so a bad phrase fails early)."""
        for rule in self.rules:
            _ = rule.pattern


@dataclass(frozen=True)
class Frames:
    """Contexts that say crisis words are not a present risk, and the markers that overrule them."""

    kinds: tuple[tuple[str, RuleSet], ...]
    urgent: RuleSet
    calm: RuleSet
    disclosure: RuleSet

    def is_urgent(self, text: str, words: set[str]) -> bool:
        """Whether an urgent marker is present once calm phrases ("i want to learn") are masked."""
        for calm in self.calm.candidates(words):
            text = calm.pattern.sub(_mask, text)
        return self.urgent.search(text, words) is not None

    def quieting(self, text: str, words: set[str]) -> str | None:
        """The frame that quiets a signal in `text` (normalised): `kind:phrase`, or None.

        None as soon as an urgent marker is present: a frame never hides "i want to do it tonight".
        """
        if self.is_urgent(text, words):
            return None
        disclosed = self.disclosure.search(text, words) is not None
        for kind, rules in self.kinds:
            if disclosed and kind != RESOLVED:
                continue  # "he raped me, what is the punishment?" is a disclosure, not homework
            rule = rules.search(text, words)
            if rule is not None:
                return f"{kind}:{rule.phrase}"
        return None

    def compile_all(self) -> None:
        """Compile every frame's and marker's regex (for validation)."""
        self.urgent.compile_all()
        self.calm.compile_all()
        self.disclosure.compile_all()
        for _, rules in self.kinds:
            rules.compile_all()


@dataclass(frozen=True)
class CategoryRules:
    """Compiled phrases and exceptions of one category."""

    name: str
    phrases: RuleSet
    exceptions: RuleSet

    def match(self, text: str, words: set[str]) -> str | None:
        """The first phrase that matches `text` (normalised) once exceptions are masked."""
        for exception in self.exceptions.candidates(words):
            text = exception.pattern.sub(_mask, text)
        for rule in self.phrases.candidates(words):
            if rule.pattern.search(text):
                return rule.phrase
        return None

    def excepted(self, text: str, words: set[str]) -> bool:
        """Whether one of this category's exceptions matches."""
        return self.exceptions.search(text, words) is not None


def _mask(match: re.Match[str]) -> str:
    return "~" * len(match.group(0))


@dataclass(frozen=True)
class SafetyRules:
    """All categories, the frames that quiet them, and the markers of a message about a friend."""

    categories: tuple[CategoryRules, ...]
    frames: Frames
    friend_markers: re.Pattern[str] | None

    @classmethod
    def load(cls, path: Path) -> SafetyRules:
        """Read and compile `rules.yml`; SafetyRulesError says what is wrong."""
        try:
            document: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
        except (OSError, yaml.YAMLError) as exc:
            raise SafetyRulesError(f"{path}: cannot read ({exc.__class__.__name__})") from exc
        if not isinstance(document, dict) or not isinstance(document.get("categories"), dict):
            raise SafetyRulesError(f"{path}: expected `categories:` with one entry per category")
        raw = document["categories"]
        missing = [c for c in CRISIS_CATEGORIES if c not in raw]
        unknown = [c for c in raw if c not in CRISIS_CATEGORIES]
        if missing or unknown:
            raise SafetyRulesError(f"{path}: categories missing {missing}, unknown {unknown}")
        compiled = []
        for name in PRIORITY:
            spec = raw[name] or {}
            phrases = _phrases(spec.get("phrases"))
            if not phrases:
                raise SafetyRulesError(f"{path}: {name} has no phrases")
            compiled.append(
                CategoryRules(name, RuleSet(phrases), RuleSet(_phrases(spec.get("exceptions"))))
            )
        markers = _alternation(_phrases(document.get("friend_markers")))
        return cls(tuple(compiled), _load_frames(path, document), markers)

    def compile_all(self) -> None:
        """Compile every rule's regex (for validation)."""
        for category in self.categories:
            category.phrases.compile_all()
            category.exceptions.compile_all()
        self.frames.compile_all()

    def check(self, text: str) -> Crisis:
        """The most urgent category whose phrases match, unless a frame quiets it."""
        normalised = normalise(text)
        words = set(normalised.split())
        for category in self.categories:
            phrase = category.match(normalised, words)
            if phrase is not None:
                if self.frames.quieting(normalised, words) is not None:
                    return Crisis()
                return Crisis(True, category.name, f"rule:{category.name}:{phrase}")
        return Crisis()

    def confirm(self, text: str, signal: Crisis) -> Crisis:
        """The NLU's crisis signal, unless an exception of its category or a frame quiets it.

        An exception is another sense of the words ("cut my hair"), so it quiets the signal even
        beside an urgent marker; a frame does not.
        """
        if not signal.detected:
            return signal
        normalised = normalise(text)
        words = set(normalised.split())
        excepted = any(
            c.name == signal.category and c.excepted(normalised, words) for c in self.categories
        )
        if excepted or self.frames.quieting(normalised, words) is not None:
            return Crisis()
        return signal

    def assess(self, text: str, signal: Crisis) -> Crisis:
        """The bot's decision: the rules first, else the NLU's signal as `confirm` leaves it."""
        crisis = self.check(text)
        return crisis if crisis.detected else self.confirm(text, signal)

    def about_friend(self, text: str) -> bool:
        """Whether the message speaks about someone else ("my friend says she wants to die")."""
        return bool(self.friend_markers and self.friend_markers.search(normalise(text)))


def _phrases(value: object) -> list[str]:
    """The phrases of one list; an empty item or a bare YAML word (`no`, `null`) is an error."""
    if not isinstance(value, list):
        return []
    wrong = [p for p in value if not isinstance(p, str)]
    if wrong:
        raise SafetyRulesError(f"not a phrase: {wrong[0]!r} (quote it, or remove the empty item)")
    return value


def _load_frames(path: Path, document: dict[str, Any]) -> Frames:
    raw = document.get("frames") or {}
    if not isinstance(raw, dict):
        raise SafetyRulesError(f"{path}: `frames:` must map a kind to its phrases")
    urgent = _phrases(document.get("urgent"))
    if raw and not urgent:
        raise SafetyRulesError(f"{path}: frames need `urgent:` markers that overrule them")
    kinds = tuple((str(kind), RuleSet(_phrases(phrases))) for kind, phrases in raw.items())
    return Frames(
        kinds,
        RuleSet(urgent),
        RuleSet(_phrases(document.get("calm"))),
        RuleSet(_phrases(document.get("disclosure"))),
    )


def _alternation(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    return re.compile("|".join(f"(?:{phrase_pattern(p)})" for p in phrases))
