"""Crisis detection on the held-out crisis set (never used to write rules or train): no regression.

The targets are recall 1.00 and a false-positive rate ≤ 0.03. The bot measures 0.923 and 0.133
on this set today (docs/nlu-report.md); the floors hold that, so a change that loses a crisis
fails here. Never tune the rules or the classifier on this file: write a new blind set first.
"""

from __future__ import annotations

from bot import paths
from nlu.crisis_model import CrisisModel
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser
from nlu.evaluate import evaluate_crisis, load_crisis_examples
from nlu.safety import SafetyRules

RECALL_FLOOR = 0.92
FALSE_POSITIVE_CEILING = 0.14


async def test_crisis_recall_and_false_alarms_do_not_regress(
    parser: EmbeddedParser, crisis_model: CrisisModel
) -> None:
    detector = CrisisDetector(SafetyRules.load(paths.SAFETY_RULES), crisis_model)
    examples = load_crisis_examples(paths.NLU_CRISIS_DATA)
    assert len(examples) >= 200
    assert sum(1 for _, c in examples if c != "none") >= 80
    assert sum(1 for _, c in examples if c == "none") >= 80
    result = await evaluate_crisis(detector, parser, examples)
    assert result.recall >= RECALL_FLOOR, result.misses
    assert result.false_positive_rate <= FALSE_POSITIVE_CEILING, result.false_alarms


async def test_the_tuning_sets_are_not_the_test_set() -> None:
    held_out = {text for text, _ in load_crisis_examples(paths.NLU_CRISIS_DATA)}
    for path in paths.CRISIS_TUNING_DIR.glob("*.yml"):
        tuning = {text for text, _ in load_crisis_examples(path)}
        assert not held_out & tuning, path.name
