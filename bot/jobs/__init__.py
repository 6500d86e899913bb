"""The bot's work as data: one module per use case, each a frozen `Job` and the function that
does it, registered here by kind; jobs travel as JSON.

    detect     images -> the API -> one reply in the thread (jobs/detect.py)
    show_job   `/detect job JOB_ID` (jobs/show_job.py)
    feedback   "Report a mistake" (jobs/feedback.py)
    notice     a private one-line answer (jobs/notice.py)
    publish_home, open_settings, save_settings   the App Home and its settings (jobs/home.py)
    forget_workspace   a workspace that uninstalled the app (jobs/forget.py)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import blocks
from bot.jobs import detect, feedback, forget, home, notice, show_job
from bot.jobs.base import Context, Job, tell
from bot.jobs.steps import ENDED, RunAgain
from bot.slack.pacing import RateLimited

logger = logging.getLogger(__name__)


def cut_short(job: Job, ctx: Context, message: dict[str, Any]) -> None:
    """Answer `message` instead of the job's answer, unless that was given (every job records its
    answer as the step ANSWER)."""
    with ctx.answering(job, ENDED) as slack:
        if slack is not None:
            tell(slack, job, message)


@dataclass(frozen=True)
class Kind:
    job: type[Job]
    run: Callable[[Any, Context], None]
    cut_short: Callable[[Any, Context, dict[str, Any]], None] = cut_short


KINDS: dict[str, Kind] = {
    kind.job.kind: kind
    for kind in (
        Kind(detect.DetectImages, detect.run, detect.cut_short),
        Kind(show_job.ShowJob, show_job.run),
        Kind(feedback.Feedback, feedback.run),
        Kind(notice.Notice, notice.run),
        Kind(home.PublishHome, home.publish),
        Kind(home.OpenSettings, home.open_settings),
        Kind(home.SaveSettings, home.save_settings),
        Kind(forget.ForgetWorkspace, forget.run),
    )
}


def _tuple_fields(job: type[Job]) -> frozenset[str]:
    hints = typing.get_type_hints(job)
    return frozenset(name for name, hint in hints.items() if typing.get_origin(hint) is tuple)


# JSON has lists only; these fields of each kind are tuples. Resolved once: resolving the (string)
# annotations costs twenty times the rest of decoding a job.
_TUPLES = {name: _tuple_fields(kind.job) for name, kind in KINDS.items()}


def encode(job: Job) -> str:
    return json.dumps({"kind": job.kind, **dataclasses.asdict(job)}, separators=(",", ":"))


def decode(text: str) -> Job:
    """The job `encode` wrote; ValueError for anything else."""
    data = json.loads(text)
    name = str(data.pop("kind", "")) if isinstance(data, dict) else ""
    if name not in KINDS:
        raise ValueError("not an encoded job")
    for field in _TUPLES[name] & data.keys():
        if isinstance(data[field], list):
            data[field] = tuple(data[field])
    return KINDS[name].job(**data)


class JobRunner:
    """Runs jobs with one context: what a worker thread calls, whichever queue it serves.

    `release` gives back a job's share of the queue (`queue.admission`) once the job has ended:
    done, failed, or cut short. (A run that fails in Redis mode is retried, within seconds, outside
    its share.)"""

    def __init__(self, ctx: Context, release: Callable[[Job], None]) -> None:
        self.ctx = ctx
        self._release = release

    def run(self, job: Job) -> None:
        ended = True
        try:
            KINDS[job.kind].run(job, self.ctx)
        except RateLimited as limited:
            # A call that must happen has its turn later (Slack's rate limits): run again then.
            ended = False
            raise RunAgain(limited.delay) from None
        except RunAgain:
            ended = False
            raise
        finally:
            if ended:
                self._release(job)

    def interrupt(self, job: Job) -> None:
        message = blocks.interrupted_message()
        self._last_word(job, lambda: KINDS[job.kind].cut_short(job, self.ctx, message))
        self._release(job)

    def give_up(self, job: Job) -> None:
        """The job kept failing: tell the user, the way an unexpected error is told."""
        message = blocks.error_message(RuntimeError(), images=0)
        self._last_word(job, lambda: KINDS[job.kind].cut_short(job, self.ctx, message))

    def refuse(self, job: Job, refusal: blocks.Refusal) -> None:
        """Tell the person who asked that the job was not taken (Slack will not deliver an acked
        event again): privately, or in the job's thread if no one asked."""
        slack = self.ctx.slack_for(job)
        if slack is None:
            return
        message = blocks.refusal_message(refusal)

        def say() -> None:
            if job.user:
                slack.responder.ephemeral(job.channel, job.user, message)
            else:
                tell(slack, job, message)

        self._last_word(job, say)

    @staticmethod
    def _last_word(job: Job, say: Callable[[], None]) -> None:
        """`say` why `job` ends. No run of it comes later to say it when Slack's turn comes: if
        the turn has not come, its user is not told (the log says so)."""
        try:
            say()
        except RateLimited as limited:
            logger.warning("could not tell why a %s job ended: %s", job.kind, limited)


__all__ = ["KINDS", "Context", "Job", "JobRunner", "RunAgain", "decode", "encode"]
