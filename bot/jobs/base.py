"""What every job is and what every handler gets.

A job is a frozen value made of ids and plain data (team, channel, ts, user, file objects, URLs,
classes), never a token or image bytes, so that it can be written as JSON and run by any worker.
A handler does the job with a `Context`: the API client, the workspaces (the Slack side of each, and
their settings) and the journals, where each job records the steps it has taken (see steps.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot import blocks
from bot.config import Settings
from bot.imageintelligence.client import ImageIntelligenceClient
from bot.imageintelligence.errors import ApiError, ImageIntelligenceError, InvalidClientCredentials
from bot.imageintelligence.models import DetectJob
from bot.jobs.steps import Journal, Journals, Step, done
from bot.slack.clients import TeamSlack
from bot.workspaces.serving import Workspaces

logger = logging.getLogger(__name__)

ANSWER = "answer"  # the step every job records its one answer as


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


@dataclass(frozen=True)
class Context:
    settings: Settings  # the environment's
    api: ImageIntelligenceClient
    workspaces: Workspaces
    journals: Journals
    # Deletes what is kept of a workspace (its settings, journals, queue marks, API results).
    forget: Callable[[str], None]

    def journal(self, job: Job) -> Journal:
        return self.journals.of(job.team_id, job.id)

    def slack_for(self, job: Job) -> TeamSlack | None:
        """The Slack side of the job's workspace; None (logged) when the app is not installed there."""
        team = self.workspaces.slack.for_team(job.team_id, job.enterprise_id)
        if team is None:
            logger.warning(
                "dropped a %s job: the app is not installed in %s", job.kind, job.team_id
            )
        return team

    @contextmanager
    def answering(self, job: Job, step: Step | None = None) -> Iterator[TeamSlack | None]:
        """The job's workspace if this run gives the job's one answer, else None. The step ANSWER
        is recorded (as `step`, or done) first, so that a run repeated answers nothing; if giving
        the answer raises (Slack's turn comes later, and the job runs again then), it is freed."""
        slack = self.slack_for(job)
        claimed = step or done()
        journal = self.journal(job)
        if slack is None or not journal.claim(ANSWER, claimed):
            yield None
            return
        try:
            yield slack
        except BaseException:
            journal.release(ANSWER, claimed)
            raise


def tell(
    slack: TeamSlack, job: Job, message: dict[str, Any], *, thread_ts: str | None = None
) -> None:
    """Answer in `thread_ts` or the job's thread, else privately to the user who asked."""
    thread_ts = thread_ts or job.thread_ts
    if thread_ts:
        slack.responder.post(job.channel, message, thread_ts=thread_ts)
    elif job.user:
        slack.responder.ephemeral(job.channel, job.user, message)


def api_failure(exc: ImageIntelligenceError) -> str:
    """Log an API failure (an error when the bot's credentials are wrong: only an admin can fix
    that) and return the sentence that tells users."""
    if isinstance(exc, InvalidClientCredentials):
        logger.error("the Image Intelligence API refused the client credentials: %s", exc)
    else:
        logger.warning("Image Intelligence API call failed: %s", exc)
    return blocks.error_sentence(exc)


def team_api_job(ctx: Context, job: Job, api_job_id: str) -> DetectJob | None:
    """The API job `api_job_id` if the job's workspace ran it, else None (the API does not know it,
    or another workspace ran it: the two answers must not differ, or a job id printed in another
    workspace's thread would tell what it found there). Raises other API failures."""
    try:
        found = ctx.api.get_detect_job(api_job_id)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return found if found.feed_id == job.team_id else None
