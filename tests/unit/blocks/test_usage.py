"""`/detect`'s help and usage errors."""

from __future__ import annotations

from typing import Any

from bot.blocks.usage import help_message, usage_error
from tests.support.blockkit import slack_problems


def texts(message: dict[str, Any]) -> list[str]:
    return [block["text"]["text"] for block in message["blocks"]]


def test_help_shows_every_form_of_the_command_with_examples() -> None:
    message = help_message(["person", "car"])
    text = message["text"]
    for form in ("`/detect`", "`/detect IMAGE_URL ...`", "`/detect job JOB_ID`", "`/detect help`"):
        assert form in text
    assert "`/detect cat dog`" in text
    assert "Default classes: person, car." in text
    assert "Default classes" not in help_message()["text"]
    assert slack_problems(message) == []


def test_a_usage_error_names_the_problem_then_the_usage() -> None:
    message = usage_error("`ftp://x` is not an http(s) link <sic>")
    assert texts(message)[0] == ":x: `ftp://x` is not an http(s) link &lt;sic&gt;"
    assert "`/detect job JOB_ID`" in texts(message)[1]
    assert slack_problems(message) == []
