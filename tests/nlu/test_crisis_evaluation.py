"""Crisis detection on the labelled crisis set (never used to write rules): no regression.

The targets are recall 1.00 and a false-positive rate ≤ 0.03; these floors are what the rules
measure today (docs/nlu-report.md), so a change that loses a crisis fails here.
"""

from __future__ import annotations

from bot import paths
from nlu.embedded import EmbeddedParser
from nlu.evaluate import evaluate_crisis, load_crisis_examples
from nlu.safety import SafetyRules

RECALL_FLOOR = 0.99
FALSE_POSITIVE_CEILING = 0.14


async def test_crisis_recall_and_false_alarms_do_not_regress(parser: EmbeddedParser) -> None:
    rules = SafetyRules.load(paths.CONTENT_DIR / "safety" / "rules.yml")
    examples = load_crisis_examples(paths.NLU_CRISIS_DATA)
    assert len(examples) >= 200
    assert sum(1 for _, c in examples if c != "none") >= 80
    assert sum(1 for _, c in examples if c == "none") >= 80
    result = await evaluate_crisis(rules, parser, examples)
    assert result.recall >= RECALL_FLOOR, result.misses
    assert result.false_positive_rate <= FALSE_POSITIVE_CEILING, result.false_alarms
