"""The bot process killed (SIGKILL) mid-conversation in polling mode: nothing skipped, nothing
answered twice, the conversation and the queue as they were.

Telegram forgets an update only when the next getUpdates names a later offset. The emulator
holds chosen calls so the test can kill the bot at the two moments that matter: after an update
was answered but before Telegram was told (it comes again: it must not be answered twice), and
while a reply is being sent (the update must be answered after the restart).
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.e2e.test_counsellor import STAFF, YOUNG, Bot, queue_a_request, say, to
from tests.fakes.bot_api import BotApiEmulator


def kill(runner: Bot) -> None:
    assert runner.process is not None
    runner.process.send_signal(signal.SIGKILL)
    runner.process.communicate(timeout=30)
    runner.process = None


def test_sigkill_loses_no_update_and_answers_none_twice(tmp_path: Path) -> None:
    with BotApiEmulator() as emulator:
        runner = Bot(tmp_path, emulator)
        try:
            runner.cli("counsellors", "add", "--telegram-id", str(STAFF["id"]), "--name", "Asha")
            runner.start()
            queue_a_request(emulator, "sw")  # a case in the queue

            # 1. answered, then killed before the next getUpdates confirms it
            answered = emulator.push_update(say(YOUNG, "/help", 2))
            confirming = emulator.hold("getUpdates", lambda p: int(p.get("offset") or 0) > answered)
            emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 4)
            assert confirming.wait(30), "the bot never asked for updates after answering"
            kill(runner)

            # 2. restarted; killed while sending the answer to the next message
            emulator.push_update(say(YOUNG, "PrEP ni nini?", 3))
            sending = emulator.hold(
                "sendMessage", lambda p: str(p.get("chat_id")) == str(YOUNG["id"])
            )
            emulator.release()
            runner.start()
            assert sending.wait(90), "the bot never answered after the restart"
            kill(runner)

            # 3. restarted again: the interrupted answer is given, once; nothing else repeats
            emulator.release()
            runner.start()
            sent = emulator.wait_for(lambda sent: len(to(sent, YOUNG)) >= 5, timeout=90)
            emulator.push_update(say(STAFF, "/queue", 2))
            sent = emulator.wait_for(lambda sent: len(to(sent, STAFF)) >= 3)
            runner.stop()
        finally:
            emulator.release()
            if runner.process is not None and runner.process.poll() is None:
                runner.process.kill()
                runner.process.communicate()

    young = [s["text"] for s in to(sent, YOUNG)]
    assert len(young) == 5, young  # /start, language, queue, /help, PrEP: each once
    assert sum("/menu" in text for text in young) == 1, "/help was answered twice"
    assert "PrEP" in young[4]
    assert "Mazungumzo" in young[1] or "Kiswahili" in young[1]
    queue = to(sent, STAFF)[-1]["text"]
    assert "Case 1 · normal · waiting" in queue, queue  # the case is still in the queue
