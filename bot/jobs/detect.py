"""Say what is in the images of an upload, a `/detect` command or the "Detect objects" shortcut.

The use case (`DetectionRun.run`): plan which images to look at, find where to answer, detect (the
API's /detect, 64 images to a job, polled until done), answer with one reply, upload the images with
boxes drawn, and last mark the shared message (:white_check_mark:, or :warning:). The mark is
decoration: one reactions.add per upload, made only when Slack's limits allow it at once (see
bot/slack/responder.py), so the answer never waits on it.

A run may be repeated: the queue runs the job again after a crash, and for each poll of an API job
still running (`RunAgain`). Every step with an outside effect is recorded in the job's journal when
it is taken, so a repeated run takes it once: the plan (which images, and why some are skipped), the
/detect announcement, each API job, the reply and the annotated upload. A run that dies while
taking a step leaves it to the next run once WORKER_DEAD_AFTER has passed (`take_once`). Image
bytes are never recorded: a later run that needs them (to submit, or to draw on) downloads them
again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bot import blocks
from bot.blocks.results import ImageOutcome, alt_text
from bot.imageintelligence.client import blob_image, url_image
from bot.imageintelligence.contract import MAX_IMAGES_PER_JOB
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.imageintelligence.models import DetectJob, ImageResult
from bot.images.annotate import annotate
from bot.images.decode import InvalidImage, check_image
from bot.jobs.base import ANSWER, Context, Job, api_failure, tell
from bot.jobs.images import PlannedImage, latest_image_files, resolve
from bot.jobs.polling import finished
from bot.jobs.steps import ENDED, Journal, State, Step, done, take_once
from bot.slack.clients import TeamSlack
from bot.slack.files import FileSkipped, image_files
from bot.vocabulary import for_api

logger = logging.getLogger(__name__)

DONE, FAILED = "white_check_mark", "warning"
NO_RESULT = "The API returned no result for this image."
NO_LATEST_IMAGE = (
    "I found no image shared lately in this channel. Share one first, or give me a link."
)


@dataclass(frozen=True, kw_only=True)
class DetectImages(Job):
    """What to look at, and where to answer.

    `files` are Slack file objects (stubs allowed); `urls` go to the API as `url` items, never
    fetched by the bot. `react_to` is the ts of the shared message that gets the outcome's mark.
    `announce` (a /detect command): first post a visible "<user> asked to detect ..." message and
    answer in its thread; with no files and no urls, look at the latest image in the channel that
    `bot_user` (the bot itself) did not upload.
    """

    kind: ClassVar[str] = "detect"
    classes: tuple[str, ...]
    files: tuple[dict[str, Any], ...] = ()
    urls: tuple[str, ...] = ()
    react_to: str | None = None
    announce: bool = False
    bot_user: str | None = None


@dataclass(frozen=True)
class Detected:
    """What detection gave: an outcome per image, the API jobs behind them, and the sentence of the
    last failure if any (`failed_all`: no image got a result because of it)."""

    outcomes: list[ImageOutcome]
    job_ids: list[str]
    failure: str | None
    failed_all: bool

    @property
    def ok(self) -> bool:
        return self.failure is None and all(
            o.problem is None and o.result is not None and o.result.ok for o in self.outcomes
        )


def run(job: DetectImages, ctx: Context) -> None:
    slack = ctx.slack_for(job)
    if slack is not None:
        DetectionRun(job, ctx, slack).run()


def cut_short(job: DetectImages, ctx: Context, message: dict[str, Any]) -> None:
    """The job ends without results (a shutdown, or it kept failing): say so where the answer
    would have gone, unless the answer was given."""
    with ctx.answering(job, ENDED) as slack:
        if slack is None:
            return
        announced = ctx.journal(job).get("announce")
        thread_ts = job.thread_ts or (announced.value if announced else None)
        tell(slack, job, message, thread_ts=thread_ts or None)
    if job.react_to:
        slack.responder.react(job.channel, job.react_to, FAILED)


class DetectionRun:
    """One run of a DetectImages job. It keeps what it is given, and the images it downloaded
    (by their index in the plan) so that a run downloads each once."""

    def __init__(self, job: DetectImages, ctx: Context, slack: TeamSlack) -> None:
        self.job = job
        self.ctx = ctx
        self.slack = slack
        self.journal: Journal = ctx.journal(job)
        self._downloaded: dict[int, bytes | FileSkipped] = {}

    def run(self) -> None:
        images = self.plan()
        if images is None:
            return
        thread_ts = self.thread(images)
        if not thread_ts:
            return
        detected = self.detect(images)
        reply = self.answer(thread_ts, detected)
        if reply.state is State.ENDED:
            return  # the thread was told this one was cut short
        # The annotated images illustrate the reply: without it (Slack refused it), none goes.
        if reply.value and self.ctx.workspaces.settings(self.job.team_id).annotate:
            self.annotate(thread_ts, images, detected)
        if self.job.react_to:
            mark = DONE if detected.ok and reply.value else FAILED
            self.slack.responder.react(self.job.channel, self.job.react_to, mark)

    # -- the plan: which images ----------------------------------------------------------------

    def plan(self) -> list[PlannedImage] | None:
        """The request's images, downloaded where they are Slack files; None when there is nothing
        to answer (the user has been told why)."""
        recorded = self.journal.get("plan")
        if recorded is not None:
            return None if recorded.value is None else [PlannedImage(**i) for i in recorded.value]
        files: list[dict[str, Any]] = list(self.job.files)
        if not files and not self.job.urls and self.job.announce:
            answer = latest_image_files(self.slack.responder, self.job.channel, self.job.bot_user)
            if not answer.ok:
                self._cannot_use_channel(answer.error)
                self.journal.claim("plan", done(None))
                return None
            files = answer.files
        responder = self.slack.responder
        images = [image for file in image_files(files) if (image := resolve(responder, file))]
        images = [self._checked(index, image) for index, image in enumerate(images)]
        images += [PlannedImage(name=url, url=url) for url in self.job.urls]
        if not self.journal.claim("plan", done([i.recorded() for i in images])):
            self._downloaded.clear()  # another run planned first: its plan, and downloads, win
            return self.plan()
        return images

    def _checked(self, index: int, image: PlannedImage) -> PlannedImage:
        """The image, or why it cannot be downloaded or used."""
        if image.file is None:
            return image
        data = self._download(index, image)
        if isinstance(data, FileSkipped):
            return PlannedImage(name=image.name, problem=str(data))
        return image

    def _download(self, index: int, image: PlannedImage) -> bytes | FileSkipped:
        """The image's bytes, or why they cannot be had or used (then not sent); once per run."""
        if index not in self._downloaded:
            assert image.file is not None
            try:
                data = self.slack.files.download(image.file)
                check_image(data)
                self._downloaded[index] = data
            except (FileSkipped, InvalidImage) as skipped:
                self._downloaded[index] = FileSkipped(str(skipped))
        return self._downloaded[index]

    # -- where to answer -----------------------------------------------------------------------

    def thread(self, images: Sequence[PlannedImage]) -> str | None:
        """The thread to answer in: the request's, or for /detect the thread of a new visible
        message announcing the request. None (or empty) when there is nothing to answer there."""
        job = self.job
        if not job.announce:
            return job.thread_ts
        assert job.user is not None
        user = job.user

        def announce() -> str:
            if not images:
                self.slack.responder.ephemeral(
                    job.channel, user, blocks.usage_error(NO_LATEST_IMAGE)
                )
                return ""
            announcement = blocks.request_announcement(user, job.classes, len(images))
            return self._post("announce", announcement, None)

        step = take_once(
            self.journal, "announce", announce, dead_after=self.ctx.settings.worker_dead_after
        )
        return str(step.value or "")

    def _post(self, step: str, message: dict[str, Any], thread_ts: str | None) -> str:
        """Post a step's message: its ts, or "" when Slack refused it (the user told why, for an
        announcement)."""
        posted = self.slack.responder.post(self.job.channel, message, thread_ts)
        if not posted.ok and step == "announce":
            self._cannot_use_channel(posted.error)
        return str(posted.data.get("ts") or "")

    def _cannot_use_channel(self, error: str | None) -> None:
        job = self.job
        if job.announce and job.user:
            message = blocks.channel_unavailable(str(error))
            self.slack.responder.ephemeral(job.channel, job.user, message)

    # -- detection -----------------------------------------------------------------------------

    def detect(self, images: Sequence[PlannedImage]) -> Detected:
        """Every image that has bytes or a URL, submitted 64 to an API job, with its result once
        the job is done (RunAgain until then). An image the API did not answer says why."""
        ready = [index for index, image in enumerate(images) if image.problem is None]
        chunks = [
            ready[i : i + MAX_IMAGES_PER_JOB] for i in range(0, len(ready), MAX_IMAGES_PER_JOB)
        ]
        problems = {index: image.problem for index, image in enumerate(images) if image.problem}
        results: dict[int, tuple[ImageResult | None, str]] = {}
        failure: str | None = None
        for n, chunk in enumerate(chunks):
            state, just_submitted = self._api_job(n, images, chunk)
            problems.update(
                {chunk[int(p)]: reason for p, reason in state.get("skipped", {}).items()}
            )
            if "failed" in state:
                failure = state["failed"]
                problems.update(dict.fromkeys(chunk, failure))
                continue
            try:
                timeout = self.ctx.settings.detect_timeout
                api_job = finished(
                    self.ctx.api, just_submitted or state["id"], state["at"], timeout
                )
            except ImageIntelligenceError as exc:
                failure = api_failure(exc)
                problems.update(dict.fromkeys(chunk, failure))
                continue
            by_custom_id = {result.custom_id: result for result in api_job.images}
            for position, index in enumerate(chunk):
                results.setdefault(index, (by_custom_id.get(str(position)), api_job.id))
        outcomes = [
            _outcome(image, problems.get(index), results.get(index))
            for index, image in enumerate(images)
        ]
        job_ids = list(dict.fromkeys(o.job_id for o in outcomes if o.job_id))
        return Detected(outcomes, job_ids, failure, failed_all=failure is not None and not results)

    def _api_job(
        self, n: int, images: Sequence[PlannedImage], chunk: Sequence[int]
    ) -> tuple[dict[str, Any], DetectJob | None]:
        """The record of the `n`th chunk's API job (see `_submit`), submitted once however many
        runs try; and the job itself when this run just submitted it (no poll needed yet)."""
        submitted: list[DetectJob] = []
        step = take_once(
            self.journal,
            f"api_job:{n}",
            lambda: self._submit(images, chunk, submitted),
            dead_after=self.ctx.settings.worker_dead_after,
        )
        return step.value, (submitted[0] if submitted else None)

    def _submit(
        self, images: Sequence[PlannedImage], chunk: Sequence[int], submitted: list[DetectJob]
    ) -> dict[str, Any]:
        """The record of the chunk's API job: its id and when it was submitted, and the images left
        out (their download failed this time); or why it failed. Custom ids are the positions in
        the chunk."""
        items = []
        skipped: dict[str, str] = {}
        for position, index in enumerate(chunk):
            image = images[index]
            if image.url is not None:
                items.append(url_image(image.url, str(position)))
                continue
            data = self._download(index, image)
            if isinstance(data, FileSkipped):
                skipped[str(position)] = str(data)
            else:
                items.append(blob_image(data, str(position)))
        if not items:  # no image of the chunk could be downloaded again
            return {"failed": next(iter(skipped.values()))}
        try:
            classes = list(for_api(self.job.classes))
            verify, team = self.ctx.settings.detect_verify, self.job.team_id
            api_job = self.ctx.api.detect(items, classes, verify=verify, feed_id=team)
        except ImageIntelligenceError as exc:
            return {"failed": api_failure(exc)}
        submitted.append(api_job)
        return {"id": api_job.id, "at": time.time(), "skipped": skipped}

    # -- the answer ----------------------------------------------------------------------------

    def answer(self, thread_ts: str, detected: Detected) -> Step:
        """The one reply (its step: DONE with the reply's ts, or "" if Slack refused it; ENDED
        when the job was cut short instead)."""
        if detected.failed_all:
            assert detected.failure is not None
            message = blocks.failure_message(detected.failure, images=len(detected.outcomes))
        else:
            message = blocks.results_message(
                detected.outcomes, job_ids=detected.job_ids, classes=self.job.classes
            )
        return take_once(
            self.journal,
            ANSWER,
            lambda: self._post(ANSWER, message, thread_ts),
            dead_after=self.ctx.settings.worker_dead_after,
        )

    # -- annotated images ----------------------------------------------------------------------

    def annotate(self, thread_ts: str, images: Sequence[PlannedImage], detected: Detected) -> None:
        """Upload the images with what was found drawn on them, each with its alt text, as one
        message in the thread, after the reply (docs/decisions.md: why not in the reply)."""

        def upload() -> str:
            uploads = list(self._draw(images, detected))
            if uploads:
                self.slack.responder.upload(self.job.channel, thread_ts, uploads)
            return ""

        take_once(self.journal, "annotated", upload, dead_after=self.ctx.settings.worker_dead_after)

    def _draw(self, images: Sequence[PlannedImage], detected: Detected) -> Iterator[dict[str, Any]]:
        for index, (image, outcome) in enumerate(zip(images, detected.outcomes, strict=True)):
            result = outcome.result
            if image.file is None or result is None or not result.found:
                continue
            data = self._download(index, image)
            drawn = annotate(data, result) if isinstance(data, bytes) else None
            if drawn is not None:
                name = f"{image.name.rsplit('.', 1)[0]}-detected.jpg"
                alt = alt_text(result, self.job.classes)
                yield {"content": drawn, "filename": name, "title": image.name, "alt_txt": alt}


def _outcome(
    image: PlannedImage, problem: str | None, result: tuple[ImageResult | None, str] | None
) -> ImageOutcome:
    if problem is not None:
        return ImageOutcome(image.name, problem=problem)
    if result is None or result[0] is None:
        return ImageOutcome(image.name, problem=NO_RESULT)
    return ImageOutcome(image.name, result[0], job_id=result[1])
