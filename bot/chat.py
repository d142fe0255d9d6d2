"""`healthbot chat`: the same dialogue engine in a terminal, buttons shown as numbers."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Button, Inbound, InboundKind, Reply
from bot.privacy import pseudonymise

QUIT = {"/quit", "/exit", "quit"}


def to_inbound(line: str, user_id: str, buttons: list[Button]) -> Inbound:
    """A typed line: a button number, a /command, or a question."""
    text = line.strip()
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return Inbound(user_id, "cli", InboundKind.BUTTON, payload=buttons[int(text) - 1].payload)
    if text.startswith("/"):
        word = text.split(maxsplit=1)[0][1:].lower()
        return Inbound(user_id, "cli", InboundKind.COMMAND, command=word)
    return Inbound(user_id, "cli", InboundKind.TEXT, text=line)


def show(replies: Iterable[Reply], write: Callable[[str], None]) -> list[Button]:
    """Print replies as text with numbered buttons; return the buttons in number order."""
    buttons: list[Button] = []
    for reply in replies:
        write("\nbot> " + reply.text.replace("\n", "\n     ") + "\n")
        for row in reply.buttons:
            for button in row:
                buttons.append(button)
                write(f"     [{len(buttons)}] {button.label}\n")
    return buttons


async def chat(
    dialogue: DialogueEngine,
    secret: str,
    read: Callable[[], str | None],
    write: Callable[[str], None],
) -> None:
    """Run the conversation until EOF or /quit."""
    user_id = pseudonymise(secret, "cli", getpass.getuser())
    write(
        "Type a question, a button number, or /quit. Andika swali, nambari ya kitufe, au /quit.\n"
    )
    buttons = show(
        await dialogue.handle(Inbound(user_id, "cli", InboundKind.COMMAND, command="start")), write
    )
    while True:
        write("\nyou> ")
        line = read()
        if line is None or line.strip().lower() in QUIT:
            write("\n")
            return
        if not line.strip():
            continue
        buttons = show(await dialogue.handle(to_inbound(line, user_id, buttons)), write) or buttons
