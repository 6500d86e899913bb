"""Slack messages built from detection results and errors: pure functions, no I/O.

Every function returns `{"text": fallback, "blocks": [...]}`, ready for `chat.postMessage` or
`chat.postEphemeral`. Block Kit's limits are respected here, so callers never have to think about
them: at most 50 blocks, 3000 characters per text field, 2..5 options per overflow menu,
150 characters per option value; user-provided text is escaped for mrkdwn.

"Report a mistake" controls carry a compact value, `fb1|<P|N>|<job id>|<class>` (P for
FALSE_POSITIVE, N for FALSE_NEGATIVE), read back with `parse_feedback_value`. The control is an
overflow menu when an image has 2..5 reportable classes, a button when it has one, and a static
select (same action id, same values) when it has more than five, so no class becomes unreportable.
An overflow or select action carries the value in `selected_option.value`, a button in `value`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks.kit import (
    MAX_MESSAGE_BLOCKS,
    MAX_OPTION_VALUE,
    MAX_OVERFLOW_OPTIONS,
    MAX_PLACEHOLDER,
    MAX_SELECT_OPTIONS,
    MAX_TEXT,
    button,
    context,
    escape,
    fit,
    message,
    names,
    notice,
    option,
    plain,
    plural,
    section,
)
from bot.imageintelligence.contract import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    IMAGE_DETECTION_ENGINE_ERROR,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_IN_PROGRESS,
    IMAGE_JOB_ERROR,
    IMAGE_MALFORMED_MESSAGE_ERROR,
    IMAGE_MODEL_SERVICE_ERROR,
    IMAGE_SPIDERWEBS_ERROR,
    IMAGE_UNKNOWN_ERROR,
    JOB_ID,
)
from bot.imageintelligence.errors import (
    ApiError,
    AuthenticationError,
    JobTimeout,
)
from bot.imageintelligence.models import ImageResult
from bot.vocabulary import everything

FEEDBACK_ACTION_ID = "report_mistake"

NOTHING_KNOWN = "Nothing I know of found."
_FEEDBACK_PREFIX = "fb1"
_CODE_LETTERS = {FALSE_POSITIVE: "P", FALSE_NEGATIVE: "N"}
_LETTER_CODES = {letter: code for code, letter in _CODE_LETTERS.items()}
_MAX_CLASS = 100

# Why an image that reached the API has no results, as the end of a sentence naming it.
IMAGE_STATUS_PHRASES: Mapping[str, str] = {
    IMAGE_IN_PROGRESS: "was still being processed when the bot stopped waiting",
    IMAGE_UNKNOWN_ERROR: "failed with an unknown error in the Image Intelligence API",
    IMAGE_JOB_ERROR: "failed because the detection job failed",
    IMAGE_DOWNLOAD_ERROR: "could not be downloaded",
    IMAGE_FORMAT_ERROR: "is not an image the detector can read",
    IMAGE_SPIDERWEBS_ERROR: "failed inside the Image Intelligence API",
    IMAGE_DETECTION_ENGINE_ERROR: "failed in the detection engine",
    IMAGE_MODEL_SERVICE_ERROR: "failed because the detection model was unavailable",
    IMAGE_MALFORMED_MESSAGE_ERROR: "was rejected as a malformed request",
}

# The same, where the API's reason follows ("could not be read: truncated or damaged image").
_BECAUSE_PHRASES: Mapping[str, str] = {IMAGE_FORMAT_ERROR: "could not be read"}

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


@dataclass(frozen=True)
class ImageOutcome:
    """One image the user shared: the API's `result` for it, or the `problem` that kept it from
    the API. `job_id` names the job that produced `result`; it may be left out when the message
    has a single job (results_message then uses that one)."""

    name: str
    result: ImageResult | None = None
    problem: str | None = None
    job_id: str | None = None

    def __post_init__(self) -> None:
        if (self.result is None) == (self.problem is None):
            raise ValueError("an ImageOutcome has either a result or a problem")


@dataclass(frozen=True)
class _Findings:
    found: tuple[tuple[str, float], ...]  # (class, confidence)
    missing: tuple[str, ...]
    unsupported: tuple[str, ...]


# --- text helpers -------------------------------------------------------------------------------


def _display_name(name: str) -> str:
    return escape(name if len(name) <= 150 else name[:149] + "…")


# --- results ------------------------------------------------------------------------------------


def _findings(result: ImageResult, classes: Sequence[str]) -> _Findings:
    """Sort the requested classes (and any other class the API answered for) into found,
    missing and unsupported. A requested class the API did not mention was not found. For
    `all`, only what was found, best first."""
    if everything(classes):
        best_first = sorted(result.found, key=lambda obj: -obj.confidence)
        return _Findings(tuple((obj.class_name, obj.confidence) for obj in best_first), (), ())
    objects = {obj.class_name.lower(): obj for obj in result.objects}
    found_keys = {obj.class_name.lower() for obj in result.found}
    names = dict.fromkeys(c.lower() for c in classes) | dict.fromkeys(objects)
    spelled = {c.lower(): c for c in reversed(classes)}
    found: list[tuple[str, float]] = []
    missing: list[str] = []
    unsupported: list[str] = []
    for key in names:
        obj = objects.get(key)
        name = spelled.get(key) or (obj.class_name if obj else key)
        if obj is not None and not obj.supported:
            unsupported.append(name)
        elif obj is not None and key in found_keys:
            found.append((name, obj.confidence))
        else:
            missing.append(name)
    return _Findings(tuple(found), tuple(missing), tuple(unsupported))


def _percent(confidence: float) -> str:
    return f"{min(max(confidence, 0.0), 1.0):.0%}"


def _found_text(findings: _Findings) -> str:
    return ", ".join(f"{escape(name)} {_percent(conf)}" for name, conf in findings.found)


def _details(outcome: ImageOutcome, classes: Sequence[str]) -> str:
    """The mrkdwn of an image's section: its name, then what was found and what was not."""
    name = f"*{_display_name(outcome.name)}*"
    if outcome.problem is not None:
        return f":warning: {name} was skipped: {escape(outcome.problem)}"
    assert outcome.result is not None
    if not outcome.result.ok:
        return f":warning: {name} {_status_phrase(outcome.result)}."
    findings = _findings(outcome.result, classes)
    lines = [name]
    if findings.found:
        lines.append(f"Found: {_found_text(findings)}")
    elif everything(classes):
        lines.append(NOTHING_KNOWN)
    if findings.missing:
        lines.append(f"Not found: {names(findings.missing)}")
    if findings.unsupported:
        lines.append(f"Not supported by this detector: {names(findings.unsupported)}")
    return "\n".join(lines)


def summary_line(outcome: ImageOutcome, classes: Sequence[str]) -> str:
    """One line for an image, for the fallback text and for images past the block limit."""
    name = _display_name(outcome.name)
    if outcome.problem is not None:
        return f"{name}: skipped ({escape(outcome.problem)})"
    assert outcome.result is not None
    if not outcome.result.ok:
        return f"{name} {_status_phrase(outcome.result)}"
    findings = _findings(outcome.result, classes)
    pieces = []
    if findings.found:
        pieces.append(_found_text(findings))
    elif everything(classes):
        pieces.append("nothing I know of found")
    if findings.missing:
        pieces.append(f"no {names(findings.missing)} found")
    if findings.unsupported:
        pieces.append(f"{names(findings.unsupported)} not supported")
    return f"{name}: {' · '.join(pieces)}"


def _status_phrase(result: ImageResult) -> str:
    """Why the image has no results; with the reason the API gave, when it gave a short one."""
    reason = " ".join((result.error or "").split())
    if reason and len(reason) <= 200:
        phrase = _BECAUSE_PHRASES.get(result.status) or _status_only(result.status)
        return f"{phrase}: {escape(reason)}"
    return _status_only(result.status)


def _status_only(status: str) -> str:
    return IMAGE_STATUS_PHRASES.get(status, f"failed ({escape(status)})")


def _feedback_control(job_id: str, findings: _Findings) -> dict[str, Any] | None:
    """The "Report a mistake" accessory of an image's section, or None if nothing can be
    reported (no reportable class, or a job id or class that does not fit in a value)."""
    choices = [(f"{name} is not there", name, FALSE_POSITIVE) for name, _ in findings.found]
    choices += [(f"{name} is there (missed)", name, FALSE_NEGATIVE) for name in findings.missing]
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


def _image_block(
    outcome: ImageOutcome, job_id: str | None, classes: Sequence[str]
) -> dict[str, Any]:
    result = outcome.result
    control = None
    if result is not None and result.ok and job_id is not None:
        control = _feedback_control(job_id, _findings(result, classes))
    return section(_details(outcome, classes), control)


def _job_context(job_ids: Sequence[str]) -> dict[str, Any]:
    label = "Job" if len(job_ids) == 1 else "Jobs"
    return context(f"{label} " + ", ".join(f"`{escape(j)}`" for j in job_ids))


def results_message(
    outcomes: Sequence[ImageOutcome], *, job_ids: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    """One reply for all the images of a Slack message: a section per image (with its "Report a
    mistake" control), the images past Slack's block limit summarised in one more section, and
    the job id(s) in a context block. `job_ids` may be empty when no image reached the API."""
    single_job = job_ids[0] if len(job_ids) == 1 else None
    footer = [_job_context(job_ids)] if job_ids else []
    room = MAX_MESSAGE_BLOCKS - len(footer)
    shown = outcomes if len(outcomes) <= room else outcomes[: room - 1]
    rest = outcomes[len(shown) :]
    blocks = [_image_block(o, o.job_id or single_job, classes) for o in shown]
    if rest:
        header = f"*…and {plural(len(rest), 'more image')}:*"
        lines = [summary_line(o, classes) for o in rest]
        blocks.append(section(header + "\n" + fit(lines, "\n", MAX_TEXT - len(header) - 1)))
    summaries = [summary_line(o, classes) for o in outcomes]
    text = fit(summaries, "; ", MAX_TEXT) or "No images to check."
    return message(text, blocks + footer)


# --- feedback values ----------------------------------------------------------------------------


def encode_feedback(job_id: str, class_name: str, code: str) -> str:
    """The value of a "Report a mistake" option; ValueError if it cannot be encoded safely."""
    if code not in _CODE_LETTERS:
        raise ValueError(f"unknown feedback code {code!r}")
    value = f"{_FEEDBACK_PREFIX}|{_CODE_LETTERS[code]}|{job_id}|{class_name}"
    parse_feedback_value(value)  # one definition of what is valid
    return value


def parse_feedback_value(value: str) -> tuple[str, str, str]:
    """(job_id, class_name, code) from a "Report a mistake" value; ValueError if it is not one
    this module could have built."""
    if not isinstance(value, str) or len(value) > MAX_OPTION_VALUE:
        raise ValueError("not a feedback value")
    parts = value.split("|", 3)
    if len(parts) != 4 or parts[0] != _FEEDBACK_PREFIX or parts[1] not in _LETTER_CODES:
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


# --- errors and notices -------------------------------------------------------------------------

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


def interrupted_message() -> dict[str, Any]:
    return notice("The bot was restarting and could not finish this one. Please try again.")


def busy_message(*, restarting: bool) -> dict[str, Any]:
    """Why a request was not taken: the bot is shutting down, or its queue is full."""
    if restarting:
        return notice("The bot is restarting and is not taking new work. Try again in a minute.")
    return notice("The bot has too much work queued right now. Try again in a minute.")


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


def request_announcement(user_id: str, classes: Sequence[str], n_images: int) -> dict[str, Any]:
    """The visible message a `/detect` answer is threaded under."""
    what = "everything I know" if everything(classes) else names(classes)
    text = f"<@{escape(user_id)}> asked to detect {what} in {plural(n_images, 'image')}"
    return message(text, [section(text)])
