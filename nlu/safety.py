"""Crisis rules: editable phrases in `content/safety/rules.yml`, matched before anything else.

The message is normalised (lower case, accents and punctuation removed, long letter runs shortened),
then each category's phrases are matched as whole words; `*` in a phrase stands for one word and
`**` for none to three. An exception (an idiom such as "this exam is killing me") masks the words it
matches for that category only, so "this exam is killing me and i want to kill myself" still fires.
Pure, in memory and fast: it never needs the database, the NLU server or the network.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlu.parser import CRISIS_CATEGORIES, Crisis

# When several categories fire, the answer follows the most urgent.
PRIORITY = ("immediate_danger", "suicide", "sexual_violence", "self_harm")
# libyaml's safe loader when PyYAML has it: the rules file is large
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REPEATS = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+")


class SafetyRulesError(ValueError):
    """The rules file is malformed; the message says where."""


def normalise(text: str) -> str:
    """`' Nataka KUJIUAAA!!'` → `' nataka kujiuaa '` (spaces around, for whole-word matching)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _REPEATS.sub(r"\1\1", plain.replace("_", " "))
    return " " + " ".join(_NON_WORD.sub(" ", plain).split()) + " "


def phrase_pattern(phrase: str) -> str:
    """A regex for one phrase over normalised text; raises SafetyRulesError when it is empty.

    `*` is exactly one word, `**` is zero to three words.
    """
    words = [w if w in ("*", "**") else normalise(w).strip() for w in phrase.split()]
    words = [w for w in " ".join(words).split()]
    while words and words[0] == "**":
        words.pop(0)
    while words and words[-1] == "**":
        words.pop()
    if not words or all(w == "*" for w in words):
        raise SafetyRulesError(f"phrase {phrase!r} has no words")
    pattern = ""
    for word in words:
        if word == "**":
            pattern += r"(?: \S+){0,3}"
        else:
            pattern += (" " if pattern else "") + (r"\S+" if word == "*" else re.escape(word))
    return r"(?<= )" + pattern + r"(?= )"


class Rule:
    """One phrase: its text (for audit), its regex (compiled on first use), its literal words."""

    __slots__ = ("_pattern", "key", "phrase", "source", "words")

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase
        self.source = phrase_pattern(phrase)
        literal = {normalise(w).strip() for w in phrase.split() if w not in ("*", "**")}
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

    def compile_all(self) -> None:
        """Compile every regex now (the validator does, so a bad phrase fails early)."""
        for rule in self.rules:
            _ = rule.pattern


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
        return any(e.pattern.search(text) for e in self.exceptions.candidates(words))


def _mask(match: re.Match[str]) -> str:
    return "~" * len(match.group(0))


@dataclass(frozen=True)
class SafetyRules:
    """All categories, plus the markers that say a message is about a friend."""

    categories: tuple[CategoryRules, ...]
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
            phrases = [str(p) for p in spec.get("phrases") or []]
            if not phrases:
                raise SafetyRulesError(f"{path}: {name} has no phrases")
            compiled.append(
                CategoryRules(
                    name,
                    RuleSet(phrases),
                    RuleSet([str(e) for e in spec.get("exceptions") or []]),
                )
            )
        markers = _alternation([str(m) for m in document.get("friend_markers") or []])
        return cls(tuple(compiled), markers)

    def compile_all(self) -> None:
        """Compile every rule's regex (for validation)."""
        for category in self.categories:
            category.phrases.compile_all()
            category.exceptions.compile_all()

    def check(self, text: str) -> Crisis:
        """The most urgent category whose phrases match, with the phrase for audit."""
        normalised = normalise(text)
        words = set(normalised.split())
        for category in self.categories:
            phrase = category.match(normalised, words)
            if phrase is not None:
                return Crisis(True, category.name, f"rule:{category.name}:{phrase}")
        return Crisis()

    def excepted(self, text: str) -> set[str]:
        """Categories whose exceptions (known idioms) match the message."""
        normalised = normalise(text)
        words = set(normalised.split())
        return {c.name for c in self.categories if c.excepted(normalised, words)}

    def about_friend(self, text: str) -> bool:
        """Whether the message speaks about someone else ("my friend says she wants to die")."""
        return bool(self.friend_markers and self.friend_markers.search(normalise(text)))


def _alternation(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    return re.compile("|".join(f"(?:{phrase_pattern(p)})" for p in phrases))
