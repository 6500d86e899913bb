"""The App Home: its tab (published when a user opens it) and the workspace's settings, which only
its admins and owners may change (`users.info` says who they are, at each step)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from bot.blocks.home import home_view, settings_modal
from bot.jobs.base import Context, Job
from bot.slack.clients import TeamSlack
from bot.vocabulary import CLASS_GROUPS
from bot.workspaces.settings import Choices

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PublishHome(Job):
    kind: ClassVar[str] = "publish_home"


@dataclass(frozen=True, kw_only=True)
class OpenSettings(Job):
    kind: ClassVar[str] = "open_settings"
    trigger_id: str  # Slack's, from the "Edit settings" button; good for 3 seconds


@dataclass(frozen=True, kw_only=True)
class SaveSettings(Job):
    kind: ClassVar[str] = "save_settings"
    classes: tuple[str, ...]
    auto_detect: bool
    annotate: bool
    allowed_channels: tuple[str, ...]  # empty: every channel

    @property
    def choices(self) -> Choices:
        return Choices(
            classes=self.classes,
            auto_detect=self.auto_detect,
            annotate=self.annotate,
            allowed_channels=frozenset(self.allowed_channels),
        )


def publish(job: PublishHome, ctx: Context) -> None:
    slack = ctx.slack_for(job)
    if slack is not None:
        _publish(job, ctx, slack, can_edit=_admin(slack, job))


def open_settings(job: OpenSettings, ctx: Context) -> None:
    slack = ctx.slack_for(job)
    if slack is None:
        return
    if not _admin(slack, job):
        logger.warning("%s, not an admin, asked to edit the settings of %s", job.user, job.team_id)
        _publish(job, ctx, slack, can_edit=False)
        return
    modal = settings_modal(ctx.workspaces.choices.get(job.team_id), ctx.settings)
    slack.responder.open_view(job.trigger_id, modal)


def save_settings(job: SaveSettings, ctx: Context) -> None:
    slack = ctx.slack_for(job)
    if slack is None:
        return
    can_edit = _admin(slack, job)
    if can_edit:
        ctx.workspaces.choices.save(job.team_id, job.choices)
        logger.info("%s changed the settings of %s", job.user, job.team_id)
    else:
        logger.warning("refused a settings change by %s in %s: not an admin", job.user, job.team_id)
    _publish(job, ctx, slack, can_edit=can_edit)


def _admin(slack: TeamSlack, job: Job) -> bool:
    """Whether the job's user is a workspace admin or owner; False when Slack will not say."""
    user = slack.responder.user(job.user or "").data.get("user") or {}
    return any(user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner"))


def _publish(job: Job, ctx: Context, slack: TeamSlack, *, can_edit: bool) -> None:
    groups = CLASS_GROUPS if ctx.settings.uses_embedded_api else ()
    view = home_view(ctx.workspaces.settings(job.team_id), can_edit=can_edit, class_groups=groups)
    slack.responder.publish_home(job.user or "", view)
