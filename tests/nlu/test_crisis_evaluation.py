"""Crisis detection on the held-out crisis set (never used to write rules or train): no regression.

The targets are recall 1.00 on clear cases and false alarms ≤ 0.03 (a check-in on a hard negative
counts half). On this set (665 messages since issue 16) the bot measures recall 0.898 at any
level, 0.954 on clear cases, and false alarms 0.130 (docs/nlu-report.md); the floors hold that, so
a change that loses a crisis fails here. Never tune the rules or the classifier on this file:
write a new blind set first.
"""

from __future__ import annotations

from bot import paths
from nlu.crisis_model import CrisisModel
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser
from nlu.evaluate import evaluate_crisis, load_crisis_examples
from nlu.safety import SafetyRules

RECALL_FLOOR = 0.89
CLEAR_RECALL_FLOOR = 0.95
FALSE_POSITIVE_CEILING = 0.14


async def test_crisis_recall_and_false_alarms_do_not_regress(
    parser: EmbeddedParser, crisis_model: CrisisModel
) -> None:
    detector = CrisisDetector(SafetyRules.load(paths.SAFETY_RULES), crisis_model)
    examples = load_crisis_examples(paths.NLU_CRISIS_DATA)
    assert len(examples) >= 600
    assert sum(1 for e in examples if e.category != "none") >= 300
    assert sum(1 for e in examples if e.category == "none") >= 300
    assert {e.level for e in examples} == {"clear", "possible", "none"}
    assert {e.language for e in examples} == {"en", "sw", "sheng"}
    result = await evaluate_crisis(detector, parser, examples)
    # figures only: the set's misses are read in docs/nlu-report.md, never while tuning
    assert result.recall >= RECALL_FLOOR, f"recall {result.recall:.3f}"
    assert result.clear_recall >= CLEAR_RECALL_FLOOR, f"clear cases {result.clear_recall:.3f}"
    assert result.false_positive_rate <= FALSE_POSITIVE_CEILING, (
        f"false alarms {result.false_positive_rate:.3f}"
    )


async def test_the_tuning_sets_are_not_the_test_set() -> None:
    held_out = {e.text for e in load_crisis_examples(paths.NLU_CRISIS_DATA)}
    for path in paths.CRISIS_TUNING_DIR.glob("*.yml"):
        tuning = {e.text for e in load_crisis_examples(path)}
        assert not held_out & tuning, path.name
