""" "Report a mistake": send the user's correction to the API's /feedback and thank them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot import blocks as replies
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.jobs.base import Context, Job, failed, tell


@dataclass(frozen=True, kw_only=True)
class Feedback(Job):
    kind: ClassVar[str] = "feedback"
    api_job_id: str
    class_name: str
    code: str  # FALSE_POSITIVE or FALSE_NEGATIVE


def run(job: Feedback, ctx: Context) -> None:
    slack = ctx.replying(job)
    if slack is None:
        return
    try:
        ctx.api.send_feedback(job.api_job_id, [(job.class_name, job.code)])
    except ImageIntelligenceError as exc:
        tell(slack, job, replies.failure_message(failed(exc), images=0))
        return
    tell(slack, job, replies.feedback_confirmation(job.class_name, job.code))
