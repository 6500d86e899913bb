"""A workspace that uninstalled the app (or revoked its bot token) is forgotten: its settings, the
journals of its jobs, what the queue keeps of it and its results in the embedded API. The listener
has deleted its installation already, so its events and the jobs still queued for it are dropped."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from bot.jobs.base import Context, Job

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ForgetWorkspace(Job):
    kind: ClassVar[str] = "forget_workspace"


def run(job: ForgetWorkspace, ctx: Context) -> None:
    ctx.forget(job.team_id)
    logger.info("forgot workspace %s", job.team_id)
