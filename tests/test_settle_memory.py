"""After start-up the long-lived heap is frozen and the collector runs less often."""

from __future__ import annotations

import gc

from bot.runtime import GC_THRESHOLDS, settle_memory


def test_start_up_objects_leave_the_collectors_sight() -> None:
    thresholds = gc.get_threshold()
    try:
        gc.unfreeze()
        long_lived = [{"item": n} for n in range(1000)]  # what start-up builds: content, models
        assert gc.get_freeze_count() == 0
        settle_memory()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() >= len(long_lived)  # in the permanent generation now
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
