"""A short private answer that still needs the Web API (a listener only acks): e.g. the shortcut
used where the bot is not enabled, or on a message without images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot import blocks
from bot.jobs.base import Context, Job, tell

NOTICES = {
    "not_enabled": "I am not enabled in this channel.",
    "no_images": "That message has no images I can look at.",
}


@dataclass(frozen=True, kw_only=True)
class Notice(Job):
    kind: ClassVar[str] = "notice"
    notice: str  # a key of NOTICES


def run(job: Notice, ctx: Context) -> None:
    with ctx.answering(job) as slack:
        if slack is not None:
            tell(slack, job, blocks.notice(NOTICES[job.notice]))
