"""Say what is in the images of an upload, a `/detect` command or the "Detect objects" shortcut.

images -> the API's /detect (64 to a job) -> the results -> one reply in the thread, the annotated
images, and reactions on the shared message (:eyes: while working, then :white_check_mark: or
:warning:).

A run may be repeated: the queue runs the job again after a crash, and the Redis queue runs it again
for each poll of a slow API job (see `polling.DeferringPoller`). Every step with an outside effect is
recorded in the job's `Progress` when it is taken, so a repeated run takes it once: the plan (which
images, and why some are skipped), the /detect announcement, each API job's id, the reply and the
annotated upload. Reactions are recorded once made: making one again changes nothing on Slack.
Image bytes are not recorded: a later run that needs them (to submit, or to draw on) downloads
them again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from bot import blocks as replies
from bot.blocks.results import ImageOutcome
from bot.imageintelligence.client import blob_image, url_image
from bot.imageintelligence.contract import MAX_IMAGES_PER_JOB
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.imageintelligence.models import DetectJob, ImageResult
from bot.images.annotate import annotate
from bot.jobs.base import ENDED, NONE, Context, Job, Progress, failed, once, tell
from bot.slack.clients import TeamSlack
from bot.slack.files import FileSkipped, image_files, needs_file_info
from bot.vocabulary import for_api

logger = logging.getLogger(__name__)

WORKING, DONE, FAILED = "eyes", "white_check_mark", "warning"
HISTORY_LOOKBACK = 50
FILE_INFO_PROBLEMS = {
    "file_deleted": "it was deleted",
    "file_not_found": "it is no longer on Slack",
}
UNKNOWN_FILE = "Slack would not tell me about this file."
ANSWER_EVENT = "image_intelligence_answer"  # the metadata event type of the bot's answers


@dataclass(frozen=True, kw_only=True)
class DetectImages(Job):
    """What to look at, and where to answer.

    `files` are Slack file objects (stubs allowed); `urls` go to the API as `url` items, never
    fetched by the bot. `react_to` is the ts of the shared message that gets progress reactions.
    `announce` (a /detect command): first post a visible "<user> asked to detect ..." message and
    answer in its thread; with no files and no urls, look at the latest image in the channel.
    """

    kind: ClassVar[str] = "detect"
    classes: tuple[str, ...]
    files: tuple[dict[str, Any], ...] = ()
    urls: tuple[str, ...] = ()
    react_to: str | None = None
    announce: bool = False


@dataclass
class _Image:
    """One image of the request: its name for users, where it comes from, or why it is skipped."""

    name: str
    file: dict[str, Any] | None = None
    url: str | None = None
    problem: str | None = None

    def recorded(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class _Run:
    """What one run of the job knows besides its progress: bytes downloaded, results seen."""

    job: DetectImages
    ctx: Context
    slack: TeamSlack
    progress: Progress
    data: dict[int, bytes]
    results: dict[int, tuple[ImageResult | None, str]]  # index -> (result, API job id)


def run(job: DetectImages, ctx: Context) -> None:
    slack = ctx.workspace(job)
    if slack is None:
        return
    progress = ctx.progress.of(job.id)
    work = _Run(job, ctx, slack, progress, data={}, results={})
    if job.react_to and progress.get("react:working") is None:
        slack.responder.react(job.channel, job.react_to, add=WORKING)
        progress.set("react:working", NONE)
    images = _plan(work)
    if images is None:
        return
    thread_ts = _thread(work, images)
    if not thread_ts:
        return
    failure = _detect(work, images)
    if failure is not None and not work.results:
        message, ok = replies.failure_message(failure, images=len(images)), False
    else:
        outcomes = [_outcome(work, index, image) for index, image in enumerate(images)]
        job_ids = list(dict.fromkeys(o.job_id for o in outcomes if o.job_id))
        message = replies.results_message(outcomes, job_ids=job_ids, classes=job.classes)
        ok = failure is None and all(
            o.problem is None and o.result and o.result.ok for o in outcomes
        )
    dead_after = ctx.settings.worker_dead_after
    reply = once(
        progress,
        "reply",
        lambda: _post(work, "reply", message, thread_ts),
        lambda: _find(work, "reply", thread_ts),
        dead_after=dead_after,
    )
    if reply == ENDED:
        return  # the thread was told this one was cut short
    if ctx.workspaces.settings(job.team_id).annotate:
        uploads = _annotated(work, images)
        once(
            progress,
            "annotated",
            lambda: _upload(work, uploads(), thread_ts),
            lambda: _find_upload(work, uploads, thread_ts),
            dead_after=dead_after,
        )
    if job.react_to and progress.get("react:done") is None:
        finished = DONE if ok and reply else FAILED
        slack.responder.react(job.channel, job.react_to, remove=WORKING, add=finished)
        progress.set("react:done", NONE)


def cut_short(job: DetectImages, ctx: Context, message: dict[str, Any]) -> None:
    """The job ends without results (a shutdown, or it kept failing): say so where the answer
    would have gone, unless the answer was given."""
    slack = ctx.replying(job, ENDED)
    if slack is None:
        return
    tell(slack, job, message, thread_ts=job.thread_ts or _announced(ctx.progress.of(job.id)))
    if job.react_to:
        slack.responder.react(job.channel, job.react_to, remove=WORKING, add=FAILED)


# -- the plan: which images --------------------------------------------------------------------


def _plan(work: _Run) -> list[_Image] | None:
    """The request's images, downloaded where they are Slack files; None when there is nothing
    to answer (the user has been told why)."""
    recorded = work.progress.get("plan")
    if recorded is not None:
        return [_Image(**image) for image in json.loads(recorded)] if recorded else None
    job = work.job
    files: list[dict[str, Any]] = list(job.files)
    if not files and not job.urls and job.announce:
        found = _recent_image_files(work)
        if found is None:
            work.progress.claim("plan", NONE)
            return None
        files = found
    images = [image for file in image_files(files) if (image := _resolve(work, file)) is not None]
    for index, image in enumerate(images):
        if image.file is not None:
            _download(work, index, image)
    images += [_Image(name=url, url=url) for url in job.urls]
    if not work.progress.claim("plan", json.dumps([i.recorded() for i in images])):
        work.data.clear()  # another run planned first: its plan, and downloads, win
        return _plan(work)
    return images


def _recent_image_files(work: _Run) -> list[dict[str, Any]] | None:
    """The image files of the latest message that has some; None if the channel cannot be read."""
    answer = work.slack.responder.history(work.job.channel, HISTORY_LOOKBACK)
    if not answer.ok:
        _cannot_use_channel(work, answer.error)
        return None
    for message in answer.data.get("messages") or []:
        found = image_files(message.get("files") or [])
        if found:
            return found
    return []


def _resolve(work: _Run, file: dict[str, Any]) -> _Image | None:
    """The file as an image to try, or why it is skipped; None for a stub that is not an image."""
    if needs_file_info(file):
        answer = work.slack.responder.file_info(file["id"])
        if not answer.ok:
            problem = FILE_INFO_PROBLEMS.get(str(answer.error), UNKNOWN_FILE)
            return _Image(name=file["id"], problem=problem)
        file = answer.data["file"]
        if not image_files([file]):
            return None
    name = file.get("name") or file.get("title") or file.get("id", "file")
    return _Image(name=name, file=file)


def _download(work: _Run, index: int, image: _Image) -> bytes | None:
    """The image's bytes (downloaded once per run); on failure the image records why."""
    if index in work.data:
        return work.data[index]
    assert image.file is not None
    try:
        data = work.slack.files.download(image.file)
    except FileSkipped as skipped:
        image.problem = str(skipped)
        return None
    work.data[index] = data
    return data


# -- where to answer ---------------------------------------------------------------------------


def _thread(work: _Run, images: Sequence[_Image]) -> str | None:
    """The thread to answer in: the request's, or for /detect the thread of a new visible message
    announcing the request. None (or empty) when there is nothing to answer there."""
    job = work.job
    if not job.announce:
        return job.thread_ts
    assert job.user is not None
    user = job.user

    def announce() -> str:
        if not images:
            problem = (
                f"I found no image in the last {HISTORY_LOOKBACK} messages of this channel. "
                "Share one first, or give me a link."
            )
            work.slack.responder.ephemeral(job.channel, user, replies.usage_error(problem))
            return NONE
        announcement = replies.request_announcement(user, job.classes, len(images))
        return _post(work, "announce", announcement, None)

    return once(
        work.progress,
        "announce",
        announce,
        lambda: _find(work, "announce", None),
        dead_after=work.ctx.settings.worker_dead_after,
    )


def _post(work: _Run, step: str, message: dict[str, Any], thread_ts: str | None) -> str:
    """Post a step's message, tagged so that `_find` knows it again; its ts, or NONE when Slack
    refused it (the user told why, for an announcement)."""
    metadata = {"event_type": ANSWER_EVENT, "event_payload": {"job": work.job.id, "step": step}}
    posted = work.slack.responder.post(work.job.channel, message, thread_ts, metadata)
    if not posted.ok and step == "announce":
        _cannot_use_channel(work, posted.error)
    return str(posted.data.get("ts") or NONE)


def _find(work: _Run, step: str, thread_ts: str | None) -> str | None:
    """The ts of the step's message if a run that died had posted it, in the thread or (for an
    announcement) among the channel's latest messages."""
    job = work.job
    listed = (
        work.slack.responder.thread(job.channel, thread_ts)
        if thread_ts
        else work.slack.responder.history(job.channel, HISTORY_LOOKBACK)
    )
    for message in listed.data.get("messages") or []:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == ANSWER_EVENT and payload == {"job": job.id, "step": step}:
            return str(message["ts"])
    return None


def _announced(progress: Progress) -> str | None:
    return progress.get("announce") or None


def _cannot_use_channel(work: _Run, error: str | None) -> None:
    job = work.job
    if job.announce and job.user:
        work.slack.responder.ephemeral(
            job.channel, job.user, replies.channel_unavailable(str(error))
        )


# -- detection -----------------------------------------------------------------------------------


def _detect(work: _Run, images: Sequence[_Image]) -> str | None:
    """Submit every image that has bytes or a URL, 64 to an API job, and wait for the results
    (into `work.results`). Returns the sentence of the last failure, if any failed."""
    ready = [index for index, image in enumerate(images) if image.problem is None]
    chunks = [ready[i : i + MAX_IMAGES_PER_JOB] for i in range(0, len(ready), MAX_IMAGES_PER_JOB)]
    submitted: dict[int, DetectJob | str] = {}
    failure: str | None = None
    for n, chunk in enumerate(chunks):
        step = f"api_job:{n}"
        recorded = work.progress.get(step)
        if recorded is None:
            try:
                job = _submit(work, images, chunk)
            except ImageIntelligenceError as exc:
                recorded = json.dumps({"failed": failed(exc)})
            else:
                if job is None:  # no image of the chunk could be downloaded again
                    recorded = json.dumps({"failed": images[chunk[0]].problem})
                else:
                    submitted[n] = job
                    recorded = json.dumps({"id": job.id, "at": time.time()})
            work.progress.set(step, recorded)
        state = json.loads(recorded)
        if "failed" in state:
            failure = state["failed"]
            for index in chunk:
                images[index].problem = failure
            continue
        try:
            done = work.ctx.poller.result(submitted.get(n, state["id"]), state["at"])
        except ImageIntelligenceError as exc:
            failure = failed(exc)
            for index in chunk:
                images[index].problem = failure
            continue
        by_custom_id = {result.custom_id: result for result in done.images}
        for position, index in enumerate(chunk):
            work.results[index] = (by_custom_id.get(str(position)), done.id)
    return failure


def _submit(work: _Run, images: Sequence[_Image], chunk: Sequence[int]) -> DetectJob | None:
    """The API job for the chunk's images; None when none could be sent. Custom ids are the
    positions in the chunk, so an image left out (its download failed this time) only lacks
    a result, and says why."""
    items = []
    for position, index in enumerate(chunk):
        image = images[index]
        if image.url is not None:
            items.append(url_image(image.url, str(position)))
        elif (data := _download(work, index, image)) is not None:
            items.append(blob_image(data, str(position)))
    if not items:
        return None
    classes = list(for_api(work.job.classes))
    return work.ctx.api.detect(items, classes, verify=work.ctx.settings.detect_verify)


def _outcome(work: _Run, index: int, image: _Image) -> ImageOutcome:
    if image.problem is not None:
        return ImageOutcome(image.name, problem=image.problem)
    result, job_id = work.results[index]
    if result is None:
        return ImageOutcome(image.name, problem="The API returned no result for this image.")
    return ImageOutcome(image.name, result, job_id=job_id)


# -- annotated images ----------------------------------------------------------------------------


def _annotated(work: _Run, images: Sequence[_Image]) -> Callable[[], list[dict[str, Any]]]:
    """The annotated images to upload (`content`, `filename`, `title`), made when first asked."""
    made: list[list[dict[str, Any]]] = []

    def uploads() -> list[dict[str, Any]]:
        if not made:
            made.append(list(_draw(work, images)))
        return made[0]

    return uploads


def _draw(work: _Run, images: Sequence[_Image]) -> Iterator[dict[str, Any]]:
    for index, image in enumerate(images):
        result = work.results.get(index, (None, ""))[0]
        if image.file is None or result is None or not result.found:
            continue
        data = _download(work, index, image)
        drawn = annotate(data, result) if data is not None else None
        if drawn is not None:
            stem = image.name.rsplit(".", 1)[0]
            yield {"content": drawn, "filename": f"{stem}-detected.jpg", "title": image.name}


def _upload(work: _Run, uploads: list[dict[str, Any]], thread_ts: str) -> str:
    if uploads:
        work.slack.responder.upload(work.job.channel, thread_ts, uploads)
    return NONE


def _find_upload(
    work: _Run, uploads: Callable[[], list[dict[str, Any]]], thread_ts: str
) -> str | None:
    """NONE if the thread has a message with the annotated images (a run that died uploaded it)."""
    names = {upload["filename"] for upload in uploads()}
    listed = work.slack.responder.thread(work.job.channel, thread_ts)
    for message in listed.data.get("messages") or []:
        if names and names <= {file.get("name") for file in message.get("files") or []}:
            return NONE
    return None
