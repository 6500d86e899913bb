"""What went wrong, in sentences for users: the Image Intelligence API's failures, the bot busy or
restarting, a channel the bot cannot use. Never the exception's own text, which is for the log, and
never a secret: a reason from the API is shown only when it is short, plain and names none.
"""

from __future__ import annotations

import json
import re
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


def busy_message(*, restarting: bool) -> dict[str, Any]:
    """Why a request was not taken: the bot is shutting down, or its queue is full."""
    if restarting:
        return notice("The bot is restarting and is not taking new work. Try again in a minute.")
    return notice("The bot has too much work queued right now. Try again in a minute.")
