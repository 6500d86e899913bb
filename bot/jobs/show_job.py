"""`/detect job JOB_ID`: an earlier API job's results, shown to the user who asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot import blocks
from bot.blocks.results import ImageOutcome
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.jobs.base import Context, Job, api_failure, team_api_job, tell
from bot.slack.clients import TeamSlack


@dataclass(frozen=True, kw_only=True)
class ShowJob(Job):
    kind: ClassVar[str] = "show_job"
    api_job_id: str


def run(job: ShowJob, ctx: Context) -> None:
    with ctx.answering(job) as slack:
        if slack is not None:
            _show(job, ctx, slack)


def _show(job: ShowJob, ctx: Context, slack: TeamSlack) -> None:
    try:
        found = team_api_job(ctx, job, job.api_job_id)
    except ImageIntelligenceError as exc:
        tell(slack, job, blocks.failure_message(api_failure(exc), images=0))
        return
    if found is None:
        tell(slack, job, blocks.job_not_found(job.api_job_id))
        return
    # Name url items by their link; the bot's custom ids are mere indexes ("0", "1", ...) and
    # blobs come back with an API-made url ("blob:<id>"), so those are numbered instead.
    outcomes = [
        ImageOutcome(r.url if r.url.startswith(("http://", "https://")) else f"Image {n}", r)
        for n, r in enumerate(found.images, 1)
    ]
    classes = list(dict.fromkeys(o.class_name for r in found.images for o in r.objects))
    tell(slack, job, blocks.results_message(outcomes, job_ids=[found.id], classes=classes))
