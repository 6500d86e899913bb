"""What every job is and what every handler gets.

A job is a frozen value made of ids and plain data (team, channel, ts, user, file objects, URLs,
classes), never a token or image bytes, so that it can be written as JSON and run by any worker.
A handler does the job with a `Context`: the API client, the Slack side of each workspace, the job's
`Progress` (what it has already done, so that a job run twice answers once) and a `Poller`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from bot import blocks as replies
from bot.config import Settings
from bot.imageintelligence.client import ImageIntelligenceClient
from bot.imageintelligence.errors import ImageIntelligenceError, InvalidClientCredentials
from bot.imageintelligence.models import DetectJob
from bot.slack.clients import TeamSlack
from bot.workspaces.serving import Workspaces

logger = logging.getLogger(__name__)


NONE = ""  # the value of a step taken that left nothing to record
ENDED = "ended"  # the value of the step "reply" when the job was cut short instead
RECHECK_TAKING = 1.0  # seconds before a run looks again at a step another run is taking
_TAKING = "taking:"  # the value of a step a run is taking: "taking:<UNIX time>:<run>"


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class Job:
    """Who asked, where, and where to answer: `thread_ts` when the answer goes in a thread, else
    `user` is told privately (an ephemeral message)."""

    kind: ClassVar[str]
    team_id: str
    enterprise_id: str | None = None  # an Enterprise Grid workspace's organization
    channel: str
    user: str | None = None
    thread_ts: str | None = None
    id: str = field(default_factory=new_job_id)


class Progress(Protocol):
    """One job's record of the steps it has taken (a step name -> a short string)."""

    def get(self, step: str) -> str | None: ...

    def claim(self, step: str, value: str) -> bool:
        """Record `step` unless it is recorded already: True only for the caller that recorded
        it, which alone may take the step."""
        ...

    def set(self, step: str, value: str) -> None: ...

    def replace(self, step: str, expected: str, value: str) -> bool:
        """Record `value` if the step still holds `expected`; whether it did."""
        ...

    def release(self, step: str, expected: str) -> None:
        """Forget the step if it still holds `expected`, so that it may be taken again."""
        ...


class ProgressStore(Protocol):
    def of(self, job_id: str) -> Progress: ...


class Later(Exception):
    """Run the job again in `delay` seconds: raised by a `Poller` that must not hold the thread."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"run again in {delay:.3f} s")
        self.delay = delay


class Poller(Protocol):
    def result(self, job: DetectJob | str, submitted_at: float) -> DetectJob:
        """The finished API job (given as just submitted, or by id), polled as the API asks;
        JobTimeout once it has run for DETECT_TIMEOUT seconds since `submitted_at` (UNIX time)."""
        ...


@dataclass(frozen=True)
class Context:
    settings: Settings  # the environment's
    api: ImageIntelligenceClient
    workspaces: Workspaces
    progress: ProgressStore
    poller: Poller

    def workspace(self, job: Job) -> TeamSlack | None:
        team = self.workspaces.slack.for_team(job.team_id, job.enterprise_id)
        if team is None:
            logger.warning(
                "dropped a %s job: the app is not installed in %s", job.kind, job.team_id
            )
        return team

    def replying(self, job: Job, value: str = NONE) -> TeamSlack | None:
        """The job's workspace if this run gives the job's one answer: it records the step
        "reply" as `value` first, so that a run repeated answers nothing. Else None."""
        slack = self.workspace(job)
        if slack is None or not self.progress.of(job.id).claim("reply", value):
            return None
        return slack


def once(
    progress: Progress,
    step: str,
    act: Callable[[], str],
    find: Callable[[], str | None],
    *,
    dead_after: float,
) -> str:
    """Take a step with an outside effect (a post, an upload) once, however many runs try.

    `act` takes it and returns what to record (e.g. the message's ts, or NONE). A run records that
    it is taking the step first; if `act` raises, the step is freed for the next try. A run that
    finds the step being taken by another leaves it to that run while it may still be alive (for
    `dead_after` seconds: WORKER_DEAD_AFTER), and then asks `find` whether that run took it
    before it died (a message it can recognise); if not, it takes the step itself. Returns the
    recorded value (or ENDED).
    """
    mine = f"{_TAKING}{time.time()}:{uuid.uuid4().hex}"
    if not progress.claim(step, mine):
        state = progress.get(step)
        if state is None:  # freed meanwhile
            return once(progress, step, act, find, dead_after=dead_after)
        if not state.startswith(_TAKING):
            return state
        age = time.time() - float(state[len(_TAKING) :].split(":", 1)[0])
        if age < dead_after:
            # Back soon: the other run usually takes the step in well under a second.
            raise Later(min(dead_after - age, RECHECK_TAKING))
        found = find()
        if found is not None:
            progress.set(step, found)
            return found
        if not progress.replace(step, state, mine):
            return once(progress, step, act, find, dead_after=dead_after)
    try:
        value = act()
    except BaseException:
        progress.release(step, mine)
        raise
    progress.set(step, value)
    return value


def tell(
    slack: TeamSlack, job: Job, message: dict[str, Any], *, thread_ts: str | None = None
) -> None:
    """Answer in `thread_ts` or the job's thread, else privately to the user who asked."""
    thread_ts = thread_ts or job.thread_ts
    if thread_ts:
        slack.responder.post(job.channel, message, thread_ts=thread_ts)
    elif job.user:
        slack.responder.ephemeral(job.channel, job.user, message)


def failed(exc: ImageIntelligenceError) -> str:
    """Log an API failure (an error when the bot's credentials are wrong: only an admin can fix
    that) and return the sentence that tells users."""
    if isinstance(exc, InvalidClientCredentials):
        logger.error("the Image Intelligence API refused the client credentials: %s", exc)
    else:
        logger.warning("Image Intelligence API call failed: %s", exc)
    return replies.error_sentence(exc)
