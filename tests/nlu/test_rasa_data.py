"""`rasa data validate` is clean, and the Rasa domain matches the intent taxonomy."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from bot import paths
from nlu import rasa_tools
from nlu.intents import ALL_INTENTS

# NLU-only project: no stories or rules, so Rasa's "not used in any story" notes are expected.
EXPECTED_NOTE = re.compile(r"The intent '\w+' is not used in any story or rule")


def test_the_domain_lists_exactly_the_taxonomy() -> None:
    domain = yaml.safe_load((paths.NLU_DIR / "domain.yml").read_text())
    assert domain["intents"] == list(ALL_INTENTS)
    assert domain["entities"] == ["location", "service"]


@pytest.mark.rasa
def test_rasa_data_validate_is_clean() -> None:
    done = subprocess.run(
        [
            str(rasa_tools.require_rasa()),
            "data",
            "validate",
            "--data",
            str(paths.NLU_DATA_DIR),
            "--config",
            str(paths.NLU_CONFIG),
            "--domain",
            str(paths.NLU_DIR / "domain.yml"),
            "--fail-on-warnings",
        ],
        capture_output=True,
        text=True,
        env=rasa_tools.rasa_env(),
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    problems = [
        line
        for line in output.splitlines()
        if ("UserWarning" in line or "ERROR" in line) and not EXPECTED_NOTE.search(line)
    ]
    assert problems == []
