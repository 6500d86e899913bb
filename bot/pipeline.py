"""From a Slack request to a thread reply: images -> the API's /detect -> results -> Block Kit.

The listeners build a `DetectionRequest` and hand it to `Pipeline.submit`, which queues the work and returns
at once (listeners must ack Slack within 3 s). Everything slow happens on the work queue's threads:
resolving Slack Connect file stubs, downloading the files with the bot token, the detect job and its
polling, the reply, the annotated image and the progress reactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import replies
from bot.annotate import annotate
from bot.imageintelligence import (
    MAX_IMAGES_PER_JOB,
    DetectJob,
    ImageIntelligenceClient,
    ImageIntelligenceError,
    ImageResult,
    InvalidClientCredentials,
    blob_image,
    url_image,
)
from bot.replies import ImageOutcome
from bot.slack_files import FileSkipped, SlackFileDownloader, image_files, needs_file_info
from bot.workqueue import Submitted, Task, WorkQueue

logger = logging.getLogger(__name__)

WORKING, DONE, FAILED = "eyes", "white_check_mark", "warning"
HISTORY_LOOKBACK = 50
FILE_INFO_PROBLEMS = {
    "file_deleted": "it was deleted",
    "file_not_found": "it is no longer on Slack",
}
UNKNOWN_FILE = "Slack would not tell me about this file."


@dataclass(frozen=True)
class DetectionRequest:
    """What to look at, and where to answer.

    `files` are Slack file objects (stubs allowed); `urls` go to the API as `url` items, never fetched here.
    `react_to` is the ts of the shared message that gets progress reactions. When `announce_for` names a user
    (a /detect command), the bot first posts a visible "<user> asked to detect ..." message and answers in
    its thread; `thread_ts` is then ignored.
    """

    channel: str
    classes: tuple[str, ...]
    thread_ts: str | None = None
    files: tuple[dict, ...] = ()
    urls: tuple[str, ...] = ()
    react_to: str | None = None
    announce_for: str | None = None
    key: str | None = field(default=None, compare=False)


@dataclass
class _Image:
    """One image of a request on its way to the API: its name for users, and its bytes or URL."""

    name: str
    url: str | None = None
    data: bytes | None = None
    problem: str | None = None
    result: ImageResult | None = None
    job_id: str | None = None


class Pipeline:
    def __init__(
        self,
        api: ImageIntelligenceClient,
        slack: WebClient,
        downloader: SlackFileDownloader,
        queue: WorkQueue,
        *,
        verify: str,
        timeout: float,
        annotate_images: bool,
    ) -> None:
        self.api = api
        self.slack = slack
        self.downloader = downloader
        self.queue = queue
        self.verify = verify
        self.timeout = timeout
        self.annotate_images = annotate_images

    # -- entry points used by the listeners (all return at once) --------------------------------

    def submit(self, request: DetectionRequest, *, user: str | None = None) -> Submitted:
        """Queue a detection; see `_submit` for what happens when it cannot be taken."""
        task = Task(
            f"detect {request.channel}",
            lambda task: self._detect(request, task),
            interrupted=lambda: self._interrupted(request),
            key=request.key,
        )
        return self._submit(task, request.channel, user, thread_ts=request.thread_ts)

    def submit_job_lookup(self, channel: str, user: str, job_id: str) -> Submitted:
        task = Task(f"job {job_id}", lambda task: self._show_job(channel, user, job_id))
        return self._submit(task, channel, user)

    def submit_feedback(
        self, channel: str, user: str, job_id: str, class_name: str, code: str
    ) -> Submitted:
        task = Task(
            f"feedback {job_id}",
            lambda task: self._feedback(channel, user, job_id, class_name, code),
        )
        return self._submit(task, channel, user)

    def _submit(
        self, task: Task, channel: str, user: str | None, *, thread_ts: str | None = None
    ) -> Submitted:
        """Queue `task`; work that cannot be taken is answered, never dropped silently: in its thread
        when it has one (Slack will not deliver an acked event again), else to the user."""
        outcome = self.queue.submit(task)
        if outcome in (Submitted.BUSY, Submitted.STOPPING):
            logger.warning("not taking %s: %s", task.name, outcome.value)
            message = replies.busy_message(restarting=outcome is Submitted.STOPPING)
            if thread_ts:
                self._post(channel, thread_ts, message)
            elif user:
                self._post_ephemeral(channel, user, message)
        return outcome

    # -- the work -------------------------------------------------------------------------------

    def _detect(self, request: DetectionRequest, task: Task) -> None:
        self._react(request, add=WORKING)
        images = self._collect(request)
        if images is None:
            return
        thread_ts = self._thread_for(request, images)
        if thread_ts is None:
            return
        job_ids, error = self._run_jobs(images, request.classes)
        if error is not None and not job_ids:
            message = replies.error_message(error, images=len(images))
            ok = False
        else:
            outcomes = [ImageOutcome(i.name, i.result, i.problem, i.job_id) for i in images]
            message = replies.results_message(outcomes, job_ids=job_ids, classes=request.classes)
            ok = error is None and all(
                o.problem is None and o.result and o.result.ok for o in outcomes
            )
        if not task.claim():
            return  # a shutdown already told the thread this one was interrupted
        replied = self._post(request.channel, thread_ts, message) is not None
        if self.annotate_images:
            self._upload_annotated(request.channel, thread_ts, images)
        self._react(request, remove=WORKING, add=DONE if ok and replied else FAILED)

    def _collect(self, request: DetectionRequest) -> list[_Image] | None:
        """The request's images; for a bare /detect, those of the latest message that has some.
        None when the channel could not be read (the user has been told)."""
        files = list(request.files)
        if not files and not request.urls and request.announce_for:
            try:
                files = self._recent_image_files(request.channel)
            except SlackApiError as exc:
                self._cannot_use_channel(request, "conversations.history", exc)
                return None
        images = [image for f in image_files(files) if (image := self._download(f)) is not None]
        images += [_Image(name=url, url=url) for url in request.urls]
        return images

    def _recent_image_files(self, channel: str) -> list[dict]:
        history = self.slack.conversations_history(channel=channel, limit=HISTORY_LOOKBACK)
        for message in history.get("messages") or []:
            found = image_files(message.get("files") or [])
            if found:
                return found
        return []

    def _thread_for(self, request: DetectionRequest, images: Sequence[_Image]) -> str | None:
        """Where to answer: the request's thread, or for /detect the thread of a new visible
        message announcing the request. None when there is nothing to answer there."""
        if not request.announce_for:
            return request.thread_ts
        user = request.announce_for
        if not images:
            problem = (
                f"I found no image in the last {HISTORY_LOOKBACK} messages of this channel. "
                "Share one first, or give me a link."
            )
            self._post_ephemeral(request.channel, user, replies.usage_error(problem))
            return None
        announcement = replies.request_announcement(user, request.classes, len(images))
        try:
            response = self.slack.chat_postMessage(channel=request.channel, **announcement)
        except SlackApiError as exc:
            self._cannot_use_channel(request, "chat.postMessage", exc)
            return None
        return response.get("ts")

    def _cannot_use_channel(
        self, request: DetectionRequest, method: str, exc: SlackApiError
    ) -> None:
        error = exc.response.get("error")
        logger.warning("%s in %s failed: %s", method, request.channel, error)
        if request.announce_for:
            self._post_ephemeral(
                request.channel, request.announce_for, replies.channel_unavailable(str(error))
            )

    def _download(self, file: dict) -> _Image | None:
        """The file's bytes, or why it was skipped; None for a stub that turns out not to be an image."""
        if needs_file_info(file):
            try:
                file = self.slack.files_info(file=file["id"])["file"]
            except SlackApiError as exc:
                error = exc.response.get("error")
                logger.warning("files.info failed for %s: %s", file["id"], error)
                return _Image(name=file["id"], problem=FILE_INFO_PROBLEMS.get(error, UNKNOWN_FILE))
            if not image_files([file]):
                return None
        name = file.get("name") or file.get("title") or file.get("id", "file")
        try:
            return _Image(name=name, data=self.downloader.download(file))
        except FileSkipped as skipped:
            return _Image(name=name, problem=str(skipped))

    def _run_jobs(
        self, images: Sequence[_Image], classes: Sequence[str]
    ) -> tuple[list[str], ImageIntelligenceError | None]:
        """Detect on every image that has bytes or a URL, 64 to a job; returns the job ids and the last error."""
        ready = [i for i in images if i.problem is None]
        job_ids: list[str] = []
        error: ImageIntelligenceError | None = None
        for start in range(0, len(ready), MAX_IMAGES_PER_JOB):
            chunk = ready[start : start + MAX_IMAGES_PER_JOB]
            try:
                job = self._run_job(chunk, classes)
            except ImageIntelligenceError as exc:
                self._log_api_error(exc)
                error = exc
                for image in chunk:
                    image.problem = replies.error_message(exc, images=0)["text"]
                continue
            job_ids.append(job.id)
            by_custom_id = {result.custom_id: result for result in job.images}
            for index, image in enumerate(chunk):
                image.job_id = job.id
                image.result = by_custom_id.get(str(index))
                if image.result is None:
                    image.problem = "The API returned no result for this image."
        return job_ids, error

    def _run_job(self, chunk: Sequence[_Image], classes: Sequence[str]) -> DetectJob:
        items = [
            blob_image(i.data, custom_id=str(n))
            if i.data is not None
            else url_image(str(i.url), str(n))
            for n, i in enumerate(chunk)
        ]
        job = self.api.detect(items, list(classes), verify=self.verify)
        return self.api.wait_for_job(job, timeout=self.timeout)

    @staticmethod
    def _log_api_error(exc: ImageIntelligenceError) -> None:
        if isinstance(exc, InvalidClientCredentials):
            logger.error("the Image Intelligence API refused the client credentials: %s", exc)
        else:
            logger.warning("Image Intelligence API call failed: %s", exc)

    def _upload_annotated(self, channel: str, thread_ts: str, images: Sequence[_Image]) -> None:
        uploads = []
        for image in images:
            if image.data is None or image.result is None:
                continue
            drawn = annotate(image.data, image.result)
            if drawn is not None:
                stem = image.name.rsplit(".", 1)[0]
                uploads.append(
                    {"content": drawn, "filename": f"{stem}-detected.jpg", "title": image.name}
                )
        if not uploads:
            return
        try:
            self.slack.files_upload_v2(file_uploads=uploads, channel=channel, thread_ts=thread_ts)
        except SlackApiError as exc:
            logger.warning("could not upload the annotated images: %s", exc.response.get("error"))

    def _show_job(self, channel: str, user: str, job_id: str) -> None:
        try:
            job = self.api.get_detect_job(job_id)
        except ImageIntelligenceError as exc:
            self._log_api_error(exc)
            self._post_ephemeral(channel, user, replies.error_message(exc, images=0))
            return
        # Name url items by their link; the bot's custom ids are mere indexes ("0", "1", ...) and
        # blobs come back with an API-made url ("blob:<id>"), so those are numbered instead.
        outcomes = [
            ImageOutcome(r.url if r.url.startswith(("http://", "https://")) else f"Image {n}", r)
            for n, r in enumerate(job.images, 1)
        ]
        classes = list(dict.fromkeys(o.class_name for r in job.images for o in r.objects))
        self._post_ephemeral(
            channel, user, replies.results_message(outcomes, job_ids=[job.id], classes=classes)
        )

    def _feedback(self, channel: str, user: str, job_id: str, class_name: str, code: str) -> None:
        try:
            self.api.send_feedback(job_id, [(class_name, code)])
        except ImageIntelligenceError as exc:
            self._log_api_error(exc)
            self._post_ephemeral(channel, user, replies.error_message(exc, images=0))
            return
        self._post_ephemeral(channel, user, replies.feedback_confirmation(class_name, code))

    def _interrupted(self, request: DetectionRequest) -> None:
        if request.thread_ts:
            self._post(request.channel, request.thread_ts, replies.interrupted_message())
        elif request.announce_for:
            self._post_ephemeral(
                request.channel, request.announce_for, replies.interrupted_message()
            )
        self._react(request, remove=WORKING, add=FAILED)

    # -- Slack calls whose failure must not stop the rest ---------------------------------------

    def _post(self, channel: str, thread_ts: str, message: dict) -> str | None:
        """Reply in a thread; the reply's ts, or None when Slack refused it (logged)."""
        try:
            response = self.slack.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        except SlackApiError as exc:
            logger.error("chat.postMessage to %s failed: %s", channel, exc.response.get("error"))
            return None
        return response.get("ts")

    def _post_ephemeral(self, channel: str, user: str, message: dict) -> None:
        try:
            self.slack.chat_postEphemeral(channel=channel, user=user, **message)
        except SlackApiError as exc:
            logger.error("chat.postEphemeral to %s failed: %s", channel, exc.response.get("error"))

    def _react(self, request: DetectionRequest, *, add: str, remove: str | None = None) -> None:
        if request.react_to is None:
            return
        calls: list[tuple[Callable[..., object], str]] = []
        if remove:
            calls.append((self.slack.reactions_remove, remove))
        calls.append((self.slack.reactions_add, add))
        for call, name in calls:
            try:
                call(channel=request.channel, timestamp=request.react_to, name=name)
            except SlackApiError as exc:
                logger.info(
                    "reaction %s on %s: %s", name, request.react_to, exc.response.get("error")
                )
