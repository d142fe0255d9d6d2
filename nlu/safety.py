"""Crisis rules: editable phrases in `content/safety/rules.yml`, matched before anything else.

The message is normalised (lower case, accents and punctuation removed, long letter runs shortened),
then each category's phrases are matched as whole words; `*` in a phrase stands for one word,
`**` for none to three, `...` for any number and `<n>` for a count of three or more ("took <n>
pills": "took 20 pills", "took ten pills"). A category's `possible:` phrases are ambiguous on
their own ("how do i abort", "sponsor"): they signal a possible crisis, never a clear one. An
exception (an idiom such as "this exam is killing me") masks the words it matches for that
category only, so "this exam is killing me and i want to kill myself" still fires.

Triage has levels. A signal (a phrase, the classifier's, the NLU's) is `clear` unless a frame
changes it, and each frame kind has an effect in the rules file: a joke, "just asking" or a bare
past ("last year…") lowers it to `possible` (a check-in); a film or the news, a school question,
"someday", a lost key or an experience that is over ("…but I'm okay now") quiets it (`none`). An
urgent marker ("tonight", "i want to", "again", "nisaidie") overrules every frame; a present
intent ("sitaki kuishi", "i don't want to live") overrules every quieting frame; a first-person
disclosure ("he raped me", "nilibakwa") overrules every quieting frame but an experience that is
over.
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

from nlu.parser import CLEAR, CRISIS_CATEGORIES, POSSIBLE, Crisis
from nlu.speaker import Speaker, sentences_of

# What a frame kind does to a signal: lower it to a check-in, or quiet it.
QUIET = "none"
# The frame kind for experiences that are over ("…but I'm okay now"): a disclosure ("he raped me")
# does not overrule it; a present intent ("sitaki kuishi") or an urgent marker does.
RESOLVED = "resolved"
# The frame kind for a bare past ("last year…"): it lowers a signal unless a present intent is said.
PAST = "past"
FRAME_EFFECTS = (POSSIBLE, QUIET)
# When several categories fire, the answer follows the most urgent: the one to act on first. Pills
# or poison already taken need a hospital before anything else (an abortion attempt with bleach is
# poisoning too, and its answer says so); the overdose and abortion answers give the police line.
PRIORITY = (
    "unsafe_abortion",
    "overdose",
    "immediate_danger",
    "suicide",
    "sexual_violence",
    "exploitation",
    "self_harm",
)
# libyaml's safe loader when PyYAML has it: the rules file is large
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REPEATS = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+")
# Laughing emoji become the word "lol" (a joke frame can then name them); other emoji are dropped.
_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f639\U0001f601]")


class SafetyRulesError(ValueError):
    """The rules file is malformed; the message says where."""


def _normalise(text: str) -> str:
    """`' Nataka KUJIUAAA!!'` → `' nataka kujiuaa '` (spaces around, for whole-word matching)."""
    lowered = text.lower()
    if lowered.isascii():
        plain = lowered
    else:
        decomposed = unicodedata.normalize("NFKD", _LAUGHING.sub(" lol ", lowered))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _REPEATS.sub(r"\1\1", plain.replace("_", " "))
    return " " + " ".join(_NON_WORD.sub(" ", plain).split()) + " "


# the rules, the classifier's frames and the NLU's check share one message
normalise = lru_cache(maxsize=64)(_normalise)


_COUNT = (
    r"(?:[3-9]|[1-9]\d+|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
    r"|thirty|forty|fifty|hundred|dozen|tatu|nne|tano|sita|saba|nane|tisa|kumi|ishirini"
    r"|thelathini|arobaini|hamsini|mia)"
)
WILDCARDS = {"*": r"\S+", "**": r"(?: \S+){0,3}", "...": r"(?: \S+)*?", "<n>": _COUNT}


def phrase_pattern(phrase: str) -> str:
    """A regex for one phrase over normalised text; raises SafetyRulesError when it is empty.

    `*` is exactly one word, `**` is zero to three words, `...` is any number of words, `<n>` a
    count of three or more.
    """
    words = [w if w in WILDCARDS else normalise(w).strip() for w in phrase.split()]
    words = [w for w in " ".join(words).split()]
    while words and words[0] in ("**", "..."):
        words.pop(0)
    while words and words[-1] in ("**", "..."):
        words.pop()
    if not words or all(w in ("*", "<n>") for w in words):
        raise SafetyRulesError(f"phrase {phrase!r} has no words")
    pattern = ""
    for word in words:
        if word in ("**", "..."):
            pattern += WILDCARDS[word]
        else:
            pattern += (" " if pattern else "") + (
                WILDCARDS[word] if word in ("*", "<n>") else re.escape(word)
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
    """Contexts that change what crisis words mean, and the markers that overrule them."""

    kinds: tuple[tuple[str, RuleSet], ...]
    effects: dict[str, str]  # kind -> POSSIBLE (lowers) or QUIET
    urgent: RuleSet
    calm: RuleSet
    disclosure: RuleSet
    intent: RuleSet

    def _calmed(self, text: str, words: set[str]) -> str:
        """The text with calm phrases ("i want to learn", "i used to want") masked."""
        for calm in self.calm.candidates(words):
            text = calm.pattern.sub(_mask, text)
        return text

    def level(self, text: str, words: set[str], level: str) -> tuple[str | None, str | None]:
        """The level a signal keeps in `text` (normalised): (level or None, `kind:phrase`).

        An urgent marker keeps the signal's own level against every frame. A quieting frame
        wins over a lowering one ("the song is about a guy who wants to die lol"), unless the
        writer states a present intent ("sitaki kuishi"), or discloses harm in a frame other
        than an experience that is over. A present intent also outweighs a bare past.
        """
        calmed = self._calmed(text, words)
        if self.urgent.search(calmed, words) is not None:
            return level, None
        intent = self.intent.search(calmed, words) is not None
        disclosed = self.disclosure.search(text, words) is not None
        lowering = None
        for kind, rules in self.kinds:
            rule = rules.search(text, words)
            if rule is None:
                continue
            frame = f"{kind}:{rule.phrase}"
            if self.effects[kind] == QUIET:
                if not (intent or (disclosed and kind != RESOLVED)):
                    return None, frame
                continue
            if not (intent and kind == PAST):
                lowering = lowering or frame
        if lowering is not None:
            return POSSIBLE, lowering
        return level, None

    def compile_all(self) -> None:
        """Compile every frame's and marker's regex (for validation)."""
        for markers in (self.urgent, self.calm, self.disclosure, self.intent):
            markers.compile_all()
        for _, rules in self.kinds:
            rules.compile_all()


@dataclass(frozen=True)
class CategoryRules:
    """Compiled phrases (clear and possible) and exceptions of one category."""

    name: str
    phrases: RuleSet
    exceptions: RuleSet
    possible: RuleSet

    def match(self, text: str, words: set[str], *, clear: bool = True) -> Rule | None:
        """The first clear (or possible) phrase that matches once exceptions are masked."""
        for exception in self.exceptions.candidates(words):
            text = exception.pattern.sub(_mask, text)
        for rule in (self.phrases if clear else self.possible).candidates(words):
            if rule.pattern.search(text):
                return rule
        return None

    def excepted(self, text: str, words: set[str]) -> bool:
        """Whether one of this category's exceptions matches."""
        return self.exceptions.search(text, words) is not None


def _mask(match: re.Match[str]) -> str:
    return "~" * len(match.group(0))


@dataclass(frozen=True)
class SafetyRules:
    """All categories, the frames that change their level, and who a crisis is about."""

    categories: tuple[CategoryRules, ...]
    frames: Frames
    speaker: Speaker

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
                CategoryRules(
                    name,
                    RuleSet(phrases),
                    RuleSet(_phrases(spec.get("exceptions"))),
                    RuleSet(_phrases(spec.get("possible"))),
                )
            )
        friends = [normalise(m).strip() for m in _phrases(document.get("friend_markers"))]
        return cls(tuple(compiled), _load_frames(path, document), Speaker(friends))

    def compile_all(self) -> None:
        """Compile every rule's regex (for validation)."""
        for category in self.categories:
            category.phrases.compile_all()
            category.exceptions.compile_all()
            category.possible.compile_all()
        self.frames.compile_all()

    def check(self, text: str) -> Crisis:
        """The most urgent category whose phrases match, at the level the frame leaves.

        Clear phrases are tried in every category before any category's possible phrases.
        """
        normalised = normalise(text)
        words = set(normalised.split())
        for clear in (True, False):
            for category in self.categories:
                rule = category.match(normalised, words, clear=clear)
                if rule is None:
                    continue
                level, frame = self.frames.level(normalised, words, CLEAR if clear else POSSIBLE)
                if level is None:
                    return Crisis()
                matched = f"rule:{category.name}:{rule.phrase}" + (f" ({frame})" if frame else "")
                return Crisis(True, category.name, matched, level, self._about_friend(text, rule))
        return Crisis()

    def confirm(self, text: str, signal: Crisis) -> Crisis:
        """Another component's crisis signal at the level this message's frame leaves it.

        An exception of its category is another sense of the words ("cut my hair"), so it quiets
        the signal even beside an urgent marker; a frame changes it as it changes a rule's.
        """
        if not signal.detected:
            return signal
        normalised = normalise(text)
        words = set(normalised.split())
        if any(
            c.name == signal.category and c.excepted(normalised, words) for c in self.categories
        ):
            return Crisis()
        level, frame = self.frames.level(normalised, words, signal.level or CLEAR)
        if level is None:
            return Crisis()
        matched = (signal.matched or "") + (f" ({frame})" if frame else "")
        about_friend = self.speaker.about_friend([_normalise(s) for s in sentences_of(text)])
        return Crisis(True, signal.category, matched, level, about_friend)

    def assess(self, text: str, signal: Crisis) -> Crisis:
        """The bot's decision: the rules first, else the NLU's signal as `confirm` leaves it."""
        crisis = self.check(text)
        return crisis if crisis.detected else self.confirm(text, signal)

    def _about_friend(self, text: str, rule: Rule) -> bool:
        """Who the crisis words are about, from the sentence the rule matched in."""
        sentences = [_normalise(s) for s in sentences_of(text)]
        for index, sentence in enumerate(sentences):
            found = rule.pattern.search(sentence)
            if found is not None:
                return self.speaker.about_friend(sentences, (index, found.start(), found.end()))
        whole = normalise(text)  # the phrase runs across sentences
        found = rule.pattern.search(whole)
        where = (0, found.start(), found.end()) if found is not None else None
        return self.speaker.about_friend([whole], where)


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
    effects = document.get("frame_effects") or {}
    if not isinstance(effects, dict):
        raise SafetyRulesError(f"{path}: `frame_effects:` must map a frame kind to its effect")
    wrong = {k: v for k, v in effects.items() if k not in raw or v not in FRAME_EFFECTS}
    missing = [k for k in raw if k not in effects]
    if wrong or missing:
        raise SafetyRulesError(
            f"{path}: frame_effects must give each frame kind one of {FRAME_EFFECTS}"
            f" (missing {missing}, wrong {wrong})"
        )
    kinds = tuple((str(kind), RuleSet(_phrases(phrases))) for kind, phrases in raw.items())
    return Frames(
        kinds,
        {str(k): str(v) for k, v in effects.items()},
        RuleSet(urgent),
        RuleSet(_phrases(document.get("calm"))),
        RuleSet(_phrases(document.get("disclosure"))),
        RuleSet(_phrases(document.get("intent"))),
    )
