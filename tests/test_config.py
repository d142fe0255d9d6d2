"""Settings: defaults, the .env file, and one clear sentence for each bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE_URL, ConfigError, load_rasa_token, load_settings

GOOD = {"HEALTHBOT_SECRET": "s" * 32}


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(GOOD, env_file=tmp_path / "missing")
    assert settings.database_url == "sqlite:///data/healthbot.db"
    assert settings.telegram_api_base_url == DEFAULT_API_BASE_URL
    assert settings.nlu_backend == "embedded" and settings.telegram_bot_token is None


def test_the_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "HEALTHBOT_SECRET=from-the-file-0123456789\nLOG_LEVEL=debug\nNLU_BACKEND=embedded\n"
    )
    settings = load_settings({"LOG_LEVEL": "WARNING"}, env_file=env)
    assert settings.healthbot_secret == "from-the-file-0123456789"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({}, "HEALTHBOT_SECRET is not set"),
        ({"HEALTHBOT_SECRET": "short"}, "too short"),
        ({**GOOD, "TELEGRAM_BOT_TOKEN": "nonsense"}, "TELEGRAM_BOT_TOKEN looks malformed"),
        ({**GOOD, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must be"),
        ({**GOOD, "NLU_BACKEND": "gpt"}, "NLU_BACKEND must be"),
        ({**GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        ({**GOOD, "TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL must be"),
        ({**GOOD, "RASA_URL": "localhost"}, "RASA_URL must be"),
        ({**GOOD, "QUICK_EXIT_URL": "javascript:alert(1)"}, "QUICK_EXIT_URL must be"),
    ],
)
def test_bad_settings_stop_with_one_clear_sentence(
    tmp_path: Path, environ: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, env_file=tmp_path / "missing")
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and message.endswith(".")


def test_run_without_a_token_says_so(tmp_path: Path) -> None:
    settings = load_settings(GOOD, env_file=tmp_path / "missing")
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is not set"):
        settings.require_token()


def test_the_rasa_token_is_read_and_never_shown(tmp_path: Path) -> None:
    token = "rasa-token-0123456789abcdef"
    settings = load_settings({**GOOD, "RASA_TOKEN": token}, env_file=tmp_path / "missing")
    assert settings.rasa_token == token and token not in repr(settings)
    assert load_settings(GOOD, env_file=tmp_path / "missing").rasa_token is None


def test_serving_rasa_needs_a_long_token(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("RASA_TOKEN=from-the-file-0123456789\n")
    assert load_rasa_token({}, env_file=env) == "from-the-file-0123456789"
    for environ in ({"RASA_TOKEN": ""}, {"RASA_TOKEN": "short"}):
        with pytest.raises(ConfigError, match="RASA_TOKEN is not set"):
            load_rasa_token(environ, env_file=tmp_path / "missing")


def test_migrations_run_with_their_own_url_or_the_database_url(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    app = "postgresql://healthbot_app:a@db/healthbot"
    owner = "postgresql://healthbot_owner:o@db/healthbot"
    both = load_settings({**GOOD, "DATABASE_URL": app, "MIGRATION_DATABASE_URL": owner}, missing)
    assert (both.database_url, both.migration_url) == (app, owner)
    assert "healthbot_owner" not in repr(both)
    laptop = load_settings(GOOD, env_file=missing)
    assert laptop.migration_url == laptop.database_url == "sqlite:///data/healthbot.db"
    with pytest.raises(ConfigError, match="MIGRATION_DATABASE_URL must be"):
        load_settings({**GOOD, "MIGRATION_DATABASE_URL": "mysql://x/y"}, env_file=missing)
