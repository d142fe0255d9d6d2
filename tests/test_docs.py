"""The README documents every setting the code reads and every command the CLI offers."""

from __future__ import annotations

import argparse
import re

from bot import paths
from bot.cli import build_arg_parser

README = (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
CONFIG_SOURCE = (paths.PROJECT_ROOT / "bot" / "config.py").read_text(encoding="utf-8")
ENV_EXAMPLE = (paths.PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "healthbot") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found.extend(_commands(sub, f"{prefix} {name}"))
    return found


def test_every_setting_is_documented_and_in_env_example() -> None:
    settings = set(re.findall(r'get\("([A-Z_]+)"\)', CONFIG_SOURCE))
    assert {"HEALTHBOT_SECRET", "TELEGRAM_BOT_TOKEN", "DATABASE_URL"} <= settings
    for name in settings:
        assert f"`{name}`" in README, name
        assert f"{name}=" in ENV_EXAMPLE, name


def test_every_command_is_documented() -> None:
    commands = _commands(build_arg_parser())
    assert "healthbot nlu parse" in commands
    for command in commands:
        leaf = command.split()[-1]
        if command.count(" ") == 1:
            assert f"`{command}" in README, command
        else:
            assert leaf in README, command


def test_the_readme_leads_with_make_run_and_make_test() -> None:
    first_block = README.split("```", 2)[1]
    assert "make run" in first_block and "make test" in first_block
