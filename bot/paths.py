"""Where the project's own files live (content, training data) and where it writes (data/)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONTENT_DIR = PROJECT_ROOT / "content"
NLU_DIR = PROJECT_ROOT / "nlu"
NLU_DATA_DIR = NLU_DIR / "data"
NLU_CONFIG = NLU_DIR / "config.yml"
LOCATION_LOOKUP = NLU_DATA_DIR / "lookups" / "location.yml"
NLU_TEST_DATA = NLU_DIR / "tests" / "test_data.yml"
NLU_CRISIS_DATA = NLU_DIR / "tests" / "crisis.yml"
CRISIS_TUNING_DIR = NLU_DIR / "crisis_tuning"
SAFETY_RULES = CONTENT_DIR / "safety" / "rules.yml"
DATA_DIR = Path("data")
EMBEDDED_MODEL = DATA_DIR / "nlu" / "embedded.pkl"
CRISIS_MODEL = DATA_DIR / "nlu" / "crisis.pkl"
