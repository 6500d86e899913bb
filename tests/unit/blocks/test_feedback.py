"""The "Report a mistake" value codec and thank-you; the control itself is tested with the results
it sits under, in test_results.py."""

from __future__ import annotations

import pytest

from bot.blocks.feedback import encode_feedback, feedback_confirmation, parse_feedback_value
from bot.imageintelligence.contract import FALSE_NEGATIVE, FALSE_POSITIVE
from tests.support.blockkit import slack_problems

JOB = "5d689c71-e68f-46c3-ac71-4053806e71de"


def test_feedback_values_round_trip() -> None:
    for code in (FALSE_POSITIVE, FALSE_NEGATIVE):
        value = encode_feedback(JOB, "traffic light", code)
        assert value == f"fb1|{code[6]}|{JOB}|traffic light"
        assert parse_feedback_value(value) == (JOB, "traffic light", code)
    assert parse_feedback_value("fb1|P|job-1|a|b") == ("job-1", "a|b", FALSE_POSITIVE)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "fb1",
        "fb1|P|job",
        "fb2|P|job|cat",
        "fb1|X|job|cat",
        "fb1|P||cat",
        "fb1|P|job|",
        "fb1|P|job| cat",
        "fb1|P|job|cat\n",
        "fb1|P|job with space|cat",
        "fb1|P|job/../x|cat",
        "fb1|P|<@U1>|cat",
        "fb1|P|job|" + "c" * 101,
        "fb1|P|" + "j" * 101 + "|cat",
        "fb1|P|job|" + "c" * 97 + "|" + "c" * 50,
        '{"job": "x"}',
    ],
)
def test_forged_or_malformed_feedback_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        parse_feedback_value(value)


def test_values_that_cannot_be_encoded_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_feedback(JOB, "cat", "TRUE_POSITIVE")
    with pytest.raises(ValueError):
        encode_feedback("not a job id", "cat", FALSE_POSITIVE)


def test_feedback_is_confirmed_in_words() -> None:
    wrong = feedback_confirmation("person", FALSE_POSITIVE)
    assert wrong["text"].startswith("Thanks! Reported that *person* is not in that image.")
    missed = feedback_confirmation("<car>", FALSE_NEGATIVE)
    assert "*&lt;car&gt;* is in that image but was missed" in missed["text"]
    assert slack_problems(missed) == []
    with pytest.raises(ValueError):
        feedback_confirmation("car", "MAYBE")
