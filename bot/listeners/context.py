"""What listeners find in Bolt's context: the process's queue and workspaces, and where a job comes
from."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.queue import Queue
from bot.workspaces.serving import Workspaces
from bot.workspaces.settings import WorkspaceSettings

QUEUE = "queue"
WORKSPACES = "workspaces"


def queue(context: BoltContext) -> Queue:
    return context[QUEUE]


def workspaces(context: BoltContext) -> Workspaces:
    return context[WORKSPACES]


def workspace_settings(context: BoltContext) -> WorkspaceSettings:
    """What applies in the workspace the request comes from."""
    return workspaces(context).settings(context.team_id or "")


def origin(context: BoltContext, channel: str, user: str | None = None) -> dict[str, Any]:
    """The fields every job takes from where a request came from."""
    return {
        "team_id": context.team_id or "",
        "enterprise_id": context.enterprise_id,
        "channel": channel,
        "user": user,
    }
