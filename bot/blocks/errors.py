"""What went wrong, in sentences for users: the Image Intelligence API's failures, a request not
taken (the bot busy or restarting, or a person's or workspace's share used up), a channel the bot
cannot use. Never the exception's own text, which is for the log, and never a secret: a reason
from the API is shown only when it is short, plain and names none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.blocks.kit import escape, notice, plural
from bot.imageintelligence.errors import ApiError, AuthenticationError, JobTimeout

_MISCONFIGURED = (
    "The bot is misconfigured: its Image Intelligence credentials were refused. "
    "An admin should check II_CLIENT_ID / II_CLIENT_SECRET."
)
_GENERIC = (
    "Something went wrong while detecting objects; the error has been logged. Try again later."
)
_SECRET_WORDS = re.compile(r"token|secret|bearer|password|authorization|api[_-]?key", re.I)


def _reason(body: str) -> str | None:
    """A short, safe reason from an API error body (its `message` or `error` when it is JSON),
    or None when there is none worth showing a user."""
    text: Any = body
    try:
        data = json.loads(body)
    except ValueError:
        pass
    else:
        text = (data.get("message") or data.get("error")) if isinstance(data, dict) else None
        if isinstance(text, dict):  # the embedded API's {"error": {"code", "message", "field"}}
            text = text.get("message")
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text or len(text) > 200 or "<" in text or _SECRET_WORDS.search(text):
        return None
    return text


def _tries(attempts: int) -> str:
    return f" after {attempts} tries" if attempts > 1 else ""


def _api_error_sentence(error: ApiError) -> str:
    status, tries = error.status, _tries(error.attempts)
    if status is None:
        return f"Could not reach the Image Intelligence API{tries}. Try again later."
    if status == 429:
        return (
            f"The Image Intelligence API is rate limiting the bot (HTTP 429){tries}. "
            "Try again in a few minutes."
        )
    if status >= 500:
        return f"Image Intelligence API unavailable (HTTP {status}){tries}. Try again later."
    if status in (401, 403):
        return (
            f"The Image Intelligence API refused the bot's access (HTTP {status}). "
            "An admin should check the API account."
        )
    reason = _reason(error.body)
    because = f": {escape(reason)}" if reason else ""
    advice = {
        404: "Check the job id.",
        413: "Try fewer or smaller images.",
    }.get(status, "Check the image links and classes.")
    return f"The Image Intelligence API rejected the request (HTTP {status}){because}. {advice}"


def error_sentence(error: BaseException) -> str:
    """What failed and what to do, in a sentence for users; never the exception's own text."""
    if isinstance(error, ApiError):
        return _api_error_sentence(error)
    if isinstance(error, AuthenticationError):
        if not error.retryable:
            return _MISCONFIGURED
        status = f" (HTTP {error.status})" if error.status is not None else ""
        return f"Could not sign in to the Image Intelligence API{status}. Try again later."
    if isinstance(error, JobTimeout):
        job = escape(error.job_id)
        return (
            f"Detection took longer than {error.timeout:g} s, so the bot stopped waiting. "
            f"Try again later, or see whether it finished with `/detect job {job}`."
        )
    return _GENERIC


def error_message(error: BaseException, *, images: int) -> dict[str, Any]:
    """What failed and what to do, for a request about `images` images (0: not about images).
    Never shows the exception's own text, which is for the log."""
    return failure_message(error_sentence(error), images=images)


def failure_message(sentence: str, *, images: int) -> dict[str, Any]:
    """An `error_sentence` as a message, noting how many images got no results."""
    note = f"No results for {plural(images, 'image')}." if images else None
    return notice(sentence, note)


def channel_unavailable(error: str) -> dict[str, Any]:
    """Slack would not let the bot read or post in the channel (`error` is Slack's code)."""
    if error in ("not_in_channel", "channel_not_found"):
        return notice(
            "I can't read or post in this channel. Add me to it (`/invite` and my name), "
            "then try again."
        )
    return notice(f"Slack would not let me use this channel ({escape(error)}). Try again later.")


def job_not_found(job_id: str) -> dict[str, Any]:
    """No job of this id was run in this workspace (whether or not another workspace ran one)."""
    return notice(f"I found no job `{escape(job_id)}` in this workspace. Check the job id.")


def interrupted_message() -> dict[str, Any]:
    return notice("The bot was restarting and could not finish this one. Please try again.")


# Why a request was not taken (`Refusal.reason`).
RESTARTING, BUSY, IN_FLIGHT, RATE = "restarting", "busy", "in_flight", "rate"
USER, TEAM = "user", "team"


@dataclass(frozen=True)
class Refusal:
    """Why a request was not taken: the bot is RESTARTING, its queue is full (BUSY), or the
    person's or workspace's (`scope`, USER or TEAM) share is used up: images IN_FLIGHT (at most
    `limit` at a time) or their RATE (at most `limit` every `period` seconds, a turn again in
    `retry_after` seconds)."""

    reason: str
    scope: str = ""
    limit: int = 0
    period: int = 0
    retry_after: int = 0


def refusal_message(refusal: Refusal) -> dict[str, Any]:
    """What the person whose request was not taken is told."""
    if refusal.reason == RESTARTING:
        return notice("The bot is restarting and is not taking new work. Try again in a minute.")
    if refusal.reason == BUSY:
        return notice("The bot has too much work queued right now. Try again in a minute.")
    limit = plural(refusal.limit, "image")
    if refusal.reason == IN_FLIGHT and refusal.scope == USER:
        return notice(
            f"I am still working on earlier images of yours, and I take at most {limit} at a "
            "time from one person. Send this again once I have answered those."
        )
    if refusal.reason == IN_FLIGHT:
        return notice(
            f"I am still working on earlier images from this workspace, and I take at most "
            f"{limit} at a time from one workspace. Try again in a minute."
        )
    who, one = (
        ("You have", "one person")
        if refusal.scope == USER
        else ("This workspace has", "one workspace")
    )
    return notice(
        f"{who} sent me more images than I take from {one}: at most {limit} "
        f"{_every(refusal.period)}. Try again in {_wait(refusal.retry_after)}."
    )


_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def _every(seconds: int) -> str:
    """How often a rate renews: "a minute", "an hour", "every 10 minutes"."""
    unit, length = next((unit, length) for unit, length in _UNITS if seconds % length == 0)
    count = seconds // length
    if count > 1:
        return f"every {count} {unit}s"
    return "an hour" if unit == "hour" else f"a {unit}"


def _wait(seconds: int) -> str:
    if seconds <= 90:
        return plural(max(seconds, 1), "second")
    return plural(-(-seconds // 60), "minute")
