"""The `healthbot` command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def healthbot(
    *args: str, cwd: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(cwd)), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path, model_path: Path, crisis_model_path: Path) -> Path:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "embedded.pkl").write_bytes(model_path.read_bytes())
    (tmp_path / "data" / "nlu" / "crisis.pkl").write_bytes(crisis_model_path.read_bytes())
    (tmp_path / ".env").write_text(
        f"HEALTHBOT_SECRET=cli-secret-0123456789\nDATABASE_URL=sqlite:///{tmp_path}/data/h.db\n"
    )
    return tmp_path


def test_nlu_parse_one_text_prints_one_json_object(workdir: Path) -> None:
    done = healthbot("nlu", "parse", "where can I get PrEP in Kisumu", cwd=workdir)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    assert result["intent"]["name"] == "find_service" and result["language"] == "en"
    assert result["crisis"] == {"detected": False, "category": None, "level": None}


def test_nlu_parse_reads_stdin_lines_in_order(workdir: Path) -> None:
    done = healthbot("nlu", "parse", cwd=workdir, stdin="hello\nnataka kupima ukimwi\nbye\n")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in results] == ["hello", "nataka kupima ukimwi", "bye"]
    assert [r["intent"]["name"] for r in results] == ["greet", "hiv_testing", "goodbye"]
    assert results[1]["language"] == "sw"


def test_nlu_parse_prints_the_bots_whole_crisis_decision(workdir: Path) -> None:
    messages = [
        "baba ana panga anataka kuniua sasa hivi",  # a rule (no NLU intent for danger)
        "im thinking of ending things",  # the classifier
        "the song is about a guy who wants to die",  # a frame quiets it
        "i just want to die lol",  # a joke marker lowers it to a check-in
        "my friend says she wants to kill herself",  # about someone else
    ]
    done = healthbot("nlu", "parse", cwd=workdir, stdin="\n".join(messages) + "\n")
    assert done.returncode == 0, done.stderr
    crises = [json.loads(line)["crisis"] for line in done.stdout.splitlines()]
    assert crises[0]["category"] == "immediate_danger"
    assert crises[0]["matched"].startswith("rule:immediate_danger:")
    assert crises[0]["level"] == "clear" and crises[0]["subject"] == "self"
    assert crises[1]["category"] == "suicide" and crises[1]["matched"].startswith("model:suicide")
    assert crises[2] == {"detected": False, "category": None, "level": None}
    assert (crises[3]["category"], crises[3]["level"]) == ("suicide", "possible")
    assert (crises[4]["level"], crises[4]["subject"]) == ("clear", "friend")


def test_nlu_train_reuses_an_unchanged_model(workdir: Path) -> None:
    done = healthbot("nlu", "train", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "embedded model up to date, reused" in done.stdout
    assert "crisis classifier up to date, reused" in done.stdout


def test_a_missing_secret_stops_with_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    done = healthbot("chat", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("healthbot: HEALTHBOT_SECRET is not set")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_run_without_a_token_explains(workdir: Path) -> None:
    done = healthbot("run", cwd=workdir)
    assert done.returncode == 2 and "TELEGRAM_BOT_TOKEN is not set" in done.stderr


def test_start_without_a_token_opens_the_terminal_chat(workdir: Path) -> None:
    done = healthbot("start", cwd=workdir, stdin="1\nhow do i get tested for hiv\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "terminal chat" in done.stderr
    assert "Habari!" in done.stdout and "[1] English" in done.stdout
    assert "GETTING TESTED FOR HIV" in done.stdout and "Tell me more" in done.stdout
    assert "<b>" not in done.stdout


def test_nlu_serve_refuses_to_open_the_rasa_api_without_a_token(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RASA_TOKEN=\n")
    done = healthbot("nlu", "serve", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("healthbot: RASA_TOKEN is not set")
    short = healthbot("nlu", "serve", cwd=tmp_path, RASA_TOKEN="short")
    assert short.returncode == 2 and "RASA_TOKEN is not set" in short.stderr


def test_the_rasa_server_command_carries_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlu import rasa_tools

    rasa = tmp_path / "rasa"
    rasa.write_text("")
    monkeypatch.setattr(rasa_tools, "RASA_BIN", rasa)
    command = rasa_tools.serve_command("a-long-random-token-0123", "127.0.0.1", 5005)
    assert command[command.index("--enable-api") + 1 :][:2] == [
        "--auth-token",
        "a-long-random-token-0123",
    ]
    with pytest.raises(ValueError, match="token"):
        rasa_tools.serve_command("", "127.0.0.1", 5005)


def test_db_upgrade_and_downgrade(workdir: Path) -> None:
    assert healthbot("db", "upgrade", cwd=workdir).stdout.strip() == "0008"
    assert healthbot("db", "downgrade", cwd=workdir).stdout.strip() == "(empty)"
    assert healthbot("db", "current", cwd=workdir).stdout.strip() == "(empty)"


def test_content_validate_passes(tmp_path: Path) -> None:
    done = healthbot("content", "validate", cwd=tmp_path)
    assert done.returncode == 0 and "content OK" in done.stdout


def test_nlu_evaluate_scores_the_held_out_set_and_writes_a_report(workdir: Path) -> None:
    report = workdir / "report.md"
    done = healthbot("nlu", "evaluate", "--report", str(report), cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "embedded: 432 examples, accuracy" in done.stdout
    accuracy = float(done.stdout.split("accuracy ", 1)[1].split(",", 1)[0])
    assert accuracy >= 0.90, "held-out accuracy target of the embedded parser"
    text = report.read_text()
    assert "| intent | precision | recall | F1 | support |" in text and "hiv_prep" in text
