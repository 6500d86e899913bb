"""The "Report a mistake" control under a result, the value it carries, and the thank-you.

Each choice carries a compact value, `fb1|<P|N>|<job id>|<class>` (P for FALSE_POSITIVE, N for
FALSE_NEGATIVE), read back with `parse_feedback_value`. The control is a button when an image has one
reportable class, an overflow menu when it has 2..5, and a static select (same action id, same
values) when it has more, so no class becomes unreportable. An overflow or select action carries the
value in `selected_option.value`, a button in `value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.kit import (
    MAX_OPTION_VALUE,
    MAX_OVERFLOW_OPTIONS,
    MAX_PLACEHOLDER,
    MAX_SELECT_OPTIONS,
    button,
    escape,
    notice,
    option,
    plain,
)
from bot.imageintelligence.contract import FALSE_NEGATIVE, FALSE_POSITIVE, JOB_ID

FEEDBACK_ACTION_ID = "report_mistake"

_PREFIX = "fb1"
_CODE_LETTERS = {FALSE_POSITIVE: "P", FALSE_NEGATIVE: "N"}
_LETTER_CODES = {letter: code for code, letter in _CODE_LETTERS.items()}
_MAX_CLASS = 100


def encode_feedback(job_id: str, class_name: str, code: str) -> str:
    """The value of a "Report a mistake" choice; ValueError if it cannot be encoded safely."""
    if code not in _CODE_LETTERS:
        raise ValueError(f"unknown feedback code {code!r}")
    value = f"{_PREFIX}|{_CODE_LETTERS[code]}|{job_id}|{class_name}"
    parse_feedback_value(value)  # one definition of what is valid
    return value


def parse_feedback_value(value: str) -> tuple[str, str, str]:
    """(job_id, class_name, code) from a "Report a mistake" value; ValueError if it is not one
    this module could have built."""
    if not isinstance(value, str) or len(value) > MAX_OPTION_VALUE:
        raise ValueError("not a feedback value")
    parts = value.split("|", 3)
    if len(parts) != 4 or parts[0] != _PREFIX or parts[1] not in _LETTER_CODES:
        raise ValueError("not a feedback value")
    _, letter, job_id, class_name = parts
    if not JOB_ID.fullmatch(job_id):
        raise ValueError("feedback value has a malformed job id")
    if (
        not class_name
        or len(class_name) > _MAX_CLASS
        or class_name != class_name.strip()
        or not class_name.isprintable()
    ):
        raise ValueError("feedback value has a malformed class")
    return job_id, class_name, _LETTER_CODES[letter]


def feedback_control(
    job_id: str, found: Sequence[str], missed: Sequence[str]
) -> dict[str, Any] | None:
    """The "Report a mistake" accessory of an image's section: a class `found` may not be there, a
    class `missed` may be. None if nothing can be reported (no class, or none that fits in a value
    with the job id)."""
    choices = [(f"{name} is not there", name, FALSE_POSITIVE) for name in found]
    choices += [(f"{name} is there (missed)", name, FALSE_NEGATIVE) for name in missed]
    labelled: list[tuple[str, str]] = []
    for label, name, code in choices:
        try:
            labelled.append((label, encode_feedback(job_id, name, code)))
        except ValueError:
            continue
    if len(labelled) == 1:
        label, value = labelled[0]
        return button(FEEDBACK_ACTION_ID, f"Report: {label}", value=value)
    options = [option(label, value) for label, value in labelled]
    if not options:
        return None
    if len(options) <= MAX_OVERFLOW_OPTIONS:
        return {"type": "overflow", "action_id": FEEDBACK_ACTION_ID, "options": options}
    return {
        "type": "static_select",
        "action_id": FEEDBACK_ACTION_ID,
        "placeholder": plain("Report a mistake", MAX_PLACEHOLDER),
        "options": options[:MAX_SELECT_OPTIONS],
    }


def feedback_confirmation(class_name: str, code: str) -> dict[str, Any]:
    """The ephemeral thank-you for a reported mistake."""
    what = {
        FALSE_POSITIVE: "is not in that image",
        FALSE_NEGATIVE: "is in that image but was missed",
    }.get(code)
    if what is None:
        raise ValueError(f"unknown feedback code {code!r}")
    return notice(
        f"Thanks! Reported that *{escape(class_name)}* {what}. It helps improve the detector.",
        emoji=":memo:",
    )
