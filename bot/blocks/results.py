"""A detection's results as Slack messages: one reply for all the images of an upload, a `/detect` or
a job looked up, the line per image the CLI prints, the alt text of an annotated image, and the
announcement a `/detect` answer is threaded under.

A reply has a section per image, with what was found, what was not and what the detector does not
support, and its "Report a mistake" control; the images past Slack's 50 blocks are summarised in one
more section, so every image is named or counted, and the job ids end it in small print.

How many of a class were found is the number of its boxes: the embedded API gives one per object
(a face and the body around it are one person) and none under its models' thresholds. A hosted API
gives no boxes, and then nothing is said about how many.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks.feedback import feedback_control
from bot.blocks.kit import (
    MAX_MESSAGE_BLOCKS,
    MAX_TEXT,
    context,
    escape,
    fit,
    message,
    names,
    plural,
    section,
)
from bot.imageintelligence.contract import (
    IMAGE_DETECTION_ENGINE_ERROR,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_IN_PROGRESS,
    IMAGE_JOB_ERROR,
    IMAGE_MALFORMED_MESSAGE_ERROR,
    IMAGE_MODEL_SERVICE_ERROR,
    IMAGE_SPIDERWEBS_ERROR,
    IMAGE_UNKNOWN_ERROR,
)
from bot.imageintelligence.models import DetectedObject, ImageResult
from bot.vocabulary import everything, singular

NOTHING_KNOWN = "Nothing I know of found."
# files.getUploadURLExternal's alt_txt limit (alt_txt_too_large past it); an image block's
# alt_text takes 2000, so one alt text fits both.
MAX_ALT_TEXT = 1000

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
class _Found:
    name: str
    confidence: float
    count: int | None  # how many (its boxes); None when the API gave no boxes

    def text(self) -> str:
        """ "person 97%"; "person \N{MULTIPLICATION SIGN}8 (best 97%)" when more than one was
        counted."""
        best = _percent(self.confidence)
        if self.count is None or self.count == 1:
            return f"{escape(self.name)} {best}"
        return f"{escape(self.name)} \N{MULTIPLICATION SIGN}{self.count} (best {best})"


@dataclass(frozen=True)
class _Findings:
    found: tuple[_Found, ...]
    missing: tuple[str, ...]
    unsupported: tuple[str, ...]


def _display_name(name: str) -> str:
    return escape(name if len(name) <= 150 else name[:149] + "…")


def _findings(result: ImageResult, classes: Sequence[str]) -> _Findings:
    """Sort the requested classes (and any other class the API answered for) into found,
    missing and unsupported. A requested class the API did not mention was not found. For
    `all`, only what was found, best first."""
    if everything(classes):
        best_first = sorted(result.found, key=lambda obj: -obj.confidence)
        return _Findings(tuple(_found(obj.class_name, obj) for obj in best_first), (), ())
    objects = {obj.class_name.lower(): obj for obj in result.objects}
    found_keys = {obj.class_name.lower() for obj in result.found}
    keys = dict.fromkeys(c.lower() for c in classes) | dict.fromkeys(objects)
    spelled = {c.lower(): c for c in reversed(classes)}
    found: list[_Found] = []
    missing: list[str] = []
    unsupported: list[str] = []
    for key in keys:
        obj = objects.get(key)
        name = spelled.get(key) or (obj.class_name if obj else key)
        if obj is not None and not obj.supported:
            unsupported.append(name)
        elif obj is not None and key in found_keys:
            found.append(_found(name, obj))
        else:
            missing.append(name)
    return _Findings(tuple(found), tuple(missing), tuple(unsupported))


def _found(name: str, obj: DetectedObject) -> _Found:
    return _Found(name, obj.confidence, len(obj.boxes) or None)


def _percent(confidence: float) -> str:
    return f"{min(max(confidence, 0.0), 1.0):.0%}"


def _found_text(findings: _Findings) -> str:
    return ", ".join(found.text() for found in findings.found)


def counts(result: ImageResult, classes: Sequence[str]) -> dict[str, int | None]:
    """How many of each class found were counted (None: the API gave no boxes to count)."""
    return {found.name: found.count for found in _findings(result, classes).found}


def alt_text(result: ImageResult, classes: Sequence[str]) -> str:
    """The annotated image described for screen readers, within MAX_ALT_TEXT: "Photo with 8 people
    and 7 kites, boxes drawn around each"; classes past the limit are summed up ("and 12 more")."""
    counted = [(f.name, f.count) for f in _findings(result, classes).found if f.count]
    if not counted:
        return "Photo with no boxes drawn"
    total = sum(count for _, count in counted)
    end = "a box drawn around it" if total == 1 else "boxes drawn around each"
    shown = len(counted)
    while True:
        items = [_counted(count, name) for name, count in counted[:shown]]
        rest = total - sum(count for _, count in counted[:shown])
        text = f"Photo with {_listed(items + ([f'{rest} more'] if rest else []))}, {end}"
        if len(text) <= MAX_ALT_TEXT or shown == 1:
            return text
        shown -= 1


# Plurals not made with -s or -es, of words the vocabulary knows, and words that stay as they are.
_IRREGULAR = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "knife": "knives",
    "ox": "oxen",
    "calf": "calves",
    "goose": "geese",
}
_SINGULAR = {many: one for one, many in _IRREGULAR.items()}
_UNCHANGED = frozenset(
    {"sheep", "cattle", "skis", "scissors", "heels", "footwear", "furniture", "food", "fruit"}
)


def _counted(n: int, name: str) -> str:
    """ "1 person", "8 people", "2 buses", "3 sheep": `name` (a class as users type it, "cats"
    included) in the number `n` asks for."""
    head, space, last = singular(name).rpartition(" ")
    last = _SINGULAR.get(last, last)
    if n != 1 and last not in _UNCHANGED:
        last = _IRREGULAR.get(last) or _regular_plural(last)
    return f"{n} {head}{space}{last}"


def _regular_plural(word: str) -> str:
    if word.endswith("y") and not word.endswith(("ay", "ey", "iy", "oy", "uy")):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


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


def _image_block(
    outcome: ImageOutcome, job_id: str | None, classes: Sequence[str]
) -> dict[str, Any]:
    result = outcome.result
    control = None
    if result is not None and result.ok and job_id is not None:
        findings = _findings(result, classes)
        found = [f.name for f in findings.found]
        control = feedback_control(job_id, found, findings.missing)
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
        title = f"*…and {plural(len(rest), 'more image')}:*"
        lines = [summary_line(o, classes) for o in rest]
        blocks.append(section(title + "\n" + fit(lines, "\n", MAX_TEXT - len(title) - 1)))
    summaries = [summary_line(o, classes) for o in outcomes]
    text = fit(summaries, "; ", MAX_TEXT) or "No images to check."
    return message(text, blocks + footer)


def request_announcement(user_id: str, classes: Sequence[str], n_images: int) -> dict[str, Any]:
    """The visible message a `/detect` answer is threaded under."""
    what = "everything I know" if everything(classes) else names(classes)
    text = f"<@{escape(user_id)}> asked to detect {what} in {plural(n_images, 'image')}"
    return message(text, [section(text)])
