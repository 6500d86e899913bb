"""Errors read as sentences that say what failed and what to do, never the exception's own text
or a secret; Slack's limits checked with tests/support/blockkit.py."""

from __future__ import annotations

import json

import pytest

from bot.blocks.errors import (
    BUSY,
    IN_FLIGHT,
    RATE,
    RESTARTING,
    TEAM,
    USER,
    Refusal,
    channel_unavailable,
    error_message,
    interrupted_message,
    refusal_message,
)
from bot.imageintelligence.errors import (
    ApiError,
    AuthenticationError,
    ImageIntelligenceError,
    InvalidClientCredentials,
    JobTimeout,
)
from tests.support.blockkit import slack_problems


def api_error(status: int | None, body: str = "", attempts: int = 1) -> ApiError:
    return ApiError(
        "POST /detect failed: Bearer sk-secret-token",
        method="POST",
        path="/detect",
        status=status,
        body=body,
        attempts=attempts,
        retryable=status is None or status >= 500,
    )


def sentence(error: BaseException, images: int = 0) -> str:
    message = error_message(error, images=images)
    assert slack_problems(message) == []
    assert "secret" not in json.dumps(message)
    assert "Traceback" not in json.dumps(message)
    return message["text"]


def test_an_unavailable_api_says_so_and_how_often_it_was_tried() -> None:
    assert sentence(api_error(503, attempts=3)) == (
        "Image Intelligence API unavailable (HTTP 503) after 3 tries. Try again later."
    )
    assert sentence(api_error(502)) == (
        "Image Intelligence API unavailable (HTTP 502). Try again later."
    )


def test_an_unreachable_api_says_it_could_not_be_reached() -> None:
    assert sentence(api_error(None, attempts=3)) == (
        "Could not reach the Image Intelligence API after 3 tries. Try again later."
    )


def test_a_rejected_request_gives_a_short_safe_reason() -> None:
    too_large = api_error(413, body='{"message": "Request entity too large"}')
    assert sentence(too_large) == (
        "The Image Intelligence API rejected the request (HTTP 413): Request entity too large."
        " Try fewer or smaller images."
    )
    plain = sentence(api_error(400, body="classes must not be empty"))
    assert plain.startswith("The Image Intelligence API rejected the request (HTTP 400): classes")


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>Bad Request</body></html>",
        '{"message": "invalid access token eyJhbGciOi"}',
        "x" * 201,
        '["a list"]',
        "",
    ],
)
def test_unsafe_or_useless_reasons_are_left_out(body: str) -> None:
    assert sentence(api_error(400, body=body)) == (
        "The Image Intelligence API rejected the request (HTTP 400)."
        " Check the image links and classes."
    )


def test_other_api_statuses_say_what_to_do() -> None:
    assert "rate limiting" in sentence(api_error(429, attempts=3))
    assert "Check the job id." in sentence(api_error(404))
    assert "An admin should check" in sentence(api_error(403))


def test_refused_credentials_say_the_bot_is_misconfigured() -> None:
    expected = (
        "The bot is misconfigured: its Image Intelligence credentials were refused. "
        "An admin should check II_CLIENT_ID / II_CLIENT_SECRET."
    )
    assert sentence(InvalidClientCredentials("401 from /oauth/token")) == expected
    assert sentence(AuthenticationError("fresh token rejected", status=403)) == expected


def test_a_token_endpoint_that_is_down_is_not_called_a_misconfiguration() -> None:
    down = AuthenticationError("token endpoint 503", status=503, retryable=True)
    assert sentence(down) == (
        "Could not sign in to the Image Intelligence API (HTTP 503). Try again later."
    )


def test_a_job_timeout_gives_the_wait_and_the_job_to_look_up() -> None:
    text = sentence(JobTimeout("job-7", 60.0), images=2)
    assert text.startswith("Detection took longer than 60 s")
    assert "Try again later" in text
    assert "`/detect job job-7`" in text
    assert text.endswith("No results for 2 images.")


@pytest.mark.parametrize(
    "error", [RuntimeError("xoxb-secret"), ImageIntelligenceError("secret"), KeyError("secret")]
)
def test_anything_else_is_a_generic_sentence(error: BaseException) -> None:
    assert sentence(error, images=1) == (
        "Something went wrong while detecting objects; the error has been logged. "
        "Try again later. No results for 1 image."
    )


# --- the bot busy, a share used up, interrupted, or kept out of a channel -------------------------


def test_busy_says_whether_the_bot_is_restarting_or_full() -> None:
    restarting = refusal_message(Refusal(RESTARTING))
    full = refusal_message(Refusal(BUSY))
    assert "restarting" in restarting["text"]
    assert "too much work" in full["text"]
    for message in (restarting, full):
        assert message["text"].endswith("Try again in a minute.")
        assert slack_problems(message) == []


@pytest.mark.parametrize(
    ("refusal", "text"),
    [
        (
            Refusal(IN_FLIGHT, USER, 30),
            "I am still working on earlier images of yours, and I take at most 30 images at a "
            "time from one person. Send this again once I have answered those.",
        ),
        (
            Refusal(IN_FLIGHT, TEAM, 1),
            "I am still working on earlier images from this workspace, and I take at most 1 image "
            "at a time from one workspace. Try again in a minute.",
        ),
        (
            Refusal(RATE, USER, 120, 60, 42),
            "You have sent me more images than I take from one person: at most 120 images a "
            "minute. Try again in 42 seconds.",
        ),
        (
            Refusal(RATE, TEAM, 1_000, 3_600, 1_790),
            "This workspace has sent me more images than I take from one workspace: at most 1000 "
            "images an hour. Try again in 30 minutes.",
        ),
        (
            Refusal(RATE, USER, 10, 300, 0),
            "You have sent me more images than I take from one person: at most 10 images every 5 "
            "minutes. Try again in 1 second.",
        ),
    ],
)
def test_a_share_used_up_says_which_and_when_to_try_again(refusal: Refusal, text: str) -> None:
    message = refusal_message(refusal)
    assert message["text"] == text
    assert slack_problems(message) == []


def test_the_interrupted_message() -> None:
    message = interrupted_message()
    assert message["text"] == (
        "The bot was restarting and could not finish this one. Please try again."
    )
    assert slack_problems(message) == []


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
def test_a_channel_the_bot_cannot_use_says_to_add_it(error):
    message = channel_unavailable(error)
    assert "Add me to it" in message["text"]


def test_another_channel_error_names_slacks_code_escaped():
    message = channel_unavailable("is_archived<x>")
    assert "(is_archived&lt;x&gt;)" in message["text"]
