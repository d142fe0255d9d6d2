"""Crisis signals from a parser's own intents (recall-tuned); the safety rules build on this."""

from __future__ import annotations

from nlu.parser import Crisis, IntentScore

# Intents that are themselves crisis signals.
CRISIS_INTENTS = {
    "suicidal_thoughts": "suicide",
    "self_harm": "self_harm",
    "sexual_violence": "sexual_violence",
}
# Recall first: a crisis intent anywhere near the top counts, not only as the winner.
CRISIS_INTENT_THRESHOLD = 0.5


def crisis_from_ranking(ranking: tuple[IntentScore, ...], source: str) -> Crisis:
    """The first crisis intent in the ranking at or above the threshold, if any."""
    for score in ranking:
        category = CRISIS_INTENTS.get(score.name)
        if category is not None and score.confidence >= CRISIS_INTENT_THRESHOLD:
            return Crisis(True, category, f"{source}:{score.name}")
    return Crisis()
