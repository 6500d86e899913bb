"""`/detect`'s usage: the help, and what a command that could not be understood gets back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.kit import escape, message, names, section

_USAGE = (
    "*Usage*\n"
    "`/detect` looks at the most recent image shared in this channel\n"
    "`/detect IMAGE_URL ...` looks at images on the web (http or https links)\n"
    "`/detect [IMAGE_URL ...] CLASS ...` looks for these classes instead of the defaults\n"
    "`/detect [IMAGE_URL ...] all` says what is in the images, of every class it knows\n"
    "`/detect job JOB_ID` shows the results of an earlier job\n"
    "`/detect help` shows this message\n"
    "*Examples*\n"
    "`/detect cat dog`\n"
    "`/detect https://example.com/street.jpg person car bicycle`\n"
    "`/detect job 5d689c71-e68f-46c3-ac71-4053806e71de`"
)


def help_message(
    default_classes: Sequence[str] = (), groups: Sequence[tuple[str, Sequence[str]]] = ()
) -> dict[str, Any]:
    """Usage of `/detect`, naming the default classes and the classes the detector knows (by
    group) when given."""
    intro = "*Detect objects in images* with `/detect`."
    if default_classes:
        intro += f" Default classes: {names(default_classes)}."
    text = f"{intro}\n{_USAGE}"
    blocks = [section(text)]
    if groups:
        known = "*Classes I know*\n" + "\n".join(f"_{t}_: {names(n)}" for t, n in groups)
        blocks.append(section(known))
        text += f"\n{known}"
    return message(text, blocks)


def usage_error(problem: str) -> dict[str, Any]:
    """What was wrong with a `/detect` command, followed by the usage."""
    sentence = f":x: {escape(problem)}"
    return message(f"{sentence}\n{_USAGE}", [section(sentence), section(_USAGE)])
