"""The bot's crisis decision: phrase rules, then the crisis classifier, then the NLU's intents.

Every signal passes the rules' exceptions and frames, which set its level (clear or possible) or
quiet it. The rules and the classifier need nothing but memory, so `check` runs before the
database or the parser is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlu.crisis_model import CrisisModel
from nlu.parser import Crisis
from nlu.safety import SafetyRules


@dataclass(frozen=True)
class CrisisDetector:
    """Rules plus an optional classifier (absent when its model could not be loaded)."""

    rules: SafetyRules
    model: CrisisModel | None = None

    def check(self, text: str) -> Crisis:
        """Before the parser: the rules, else the classifier's signal at the level frames leave."""
        crisis = self.rules.check(text)
        if crisis.detected or self.model is None:
            return crisis
        return self.rules.confirm(text, self.model.signal(text))

    def confirm(self, text: str, signal: Crisis) -> Crisis:
        """The NLU's crisis signal at the level exceptions and frames leave it."""
        return self.rules.confirm(text, signal)

    def assess(self, text: str, signal: Crisis) -> Crisis:
        """The whole decision for one message, given the NLU's signal."""
        crisis = self.check(text)
        return crisis if crisis.detected else self.confirm(text, signal)
