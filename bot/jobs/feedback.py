""" "Report a mistake": send the user's correction to the API's /feedback and thank them, for a job
of their own workspace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot import blocks
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.jobs.base import Context, Job, api_failure, team_api_job, tell
from bot.slack.clients import TeamSlack


@dataclass(frozen=True, kw_only=True)
class Feedback(Job):
    kind: ClassVar[str] = "feedback"
    api_job_id: str
    class_name: str
    code: str  # FALSE_POSITIVE or FALSE_NEGATIVE


def run(job: Feedback, ctx: Context) -> None:
    with ctx.answering(job) as slack:
        if slack is not None:
            _send(job, ctx, slack)


def _send(job: Feedback, ctx: Context, slack: TeamSlack) -> None:
    try:
        if team_api_job(ctx, job, job.api_job_id) is None:
            tell(slack, job, blocks.job_not_found(job.api_job_id))
            return
        ctx.api.send_feedback(job.api_job_id, [(job.class_name, job.code)])
    except ImageIntelligenceError as exc:
        tell(slack, job, blocks.failure_message(api_failure(exc), images=0))
        return
    tell(slack, job, blocks.feedback_confirmation(job.class_name, job.code))
