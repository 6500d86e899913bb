"""Events: image uploads (a `message` with subtype `file_share` gets one threaded reply), the App Home
being opened, the app being uninstalled (the workspace is then forgotten: jobs/forget.py), and
Slack holding a workspace's events back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from slack_bolt import App, BoltContext, BoltResponse

from bot.jobs.detect import DetectImages
from bot.jobs.forget import ForgetWorkspace
from bot.jobs.home import PublishHome
from bot.listeners.context import origin, queue, workspace_settings, workspaces
from bot.slack.files import image_files, kept

logger = logging.getLogger(__name__)


def message(event: dict, context: BoltContext) -> None:
    """Every message subtype comes here: a subscribed event with no listener is answered 404, and
    Slack retries it."""
    if event.get("subtype") != "file_share" or event.get("bot_id") or "edited" in event:
        return
    settings = workspace_settings(context)
    channel = event.get("channel", "")
    if not settings.allows(channel):
        return
    if not settings.auto_detect and f"<@{context.bot_user_id}>" not in (event.get("text") or ""):
        return
    files = image_files(event.get("files") or [])
    if not files:
        return
    ts = event["ts"]
    job = DetectImages(
        # Who shared: their share of the bot (queue.admission), and who is told if it is used up.
        **origin(context, channel, event.get("user")),
        classes=settings.detect_classes,
        thread_ts=event.get("thread_ts") or ts,
        files=tuple(kept(file) for file in files),
        react_to=ts,
    )
    # One key per message, whichever event brought it (Slack's retries included).
    queue(context).submit(job, key=f"{job.team_id}:{channel}:{ts}")


def app_home_opened(event: dict, body: dict, context: BoltContext) -> None:
    if event.get("tab") == "home":
        job = PublishHome(**origin(context, event.get("channel", ""), event["user"]))
        queue(context).submit(job, key=f"{job.team_id}:{body.get('event_id')}")


def app_uninstalled(body: dict, context: BoltContext) -> None:
    """Slack sends it (and stops delivering the workspace's events) when the app is uninstalled."""
    _forget(body, context, "the app was uninstalled")


def tokens_revoked(event: dict, body: dict, context: BoltContext) -> None:
    """Only a revoked bot token matters: the app asks for no user tokens."""
    if (event.get("tokens") or {}).get("bot"):
        _forget(body, context, "Slack revoked the bot token")


def _forget(body: dict, context: BoltContext, what: str) -> None:
    """Delete the installation now (the workspace's events are dropped from here on), and have a
    job forget the rest of the workspace."""
    team_id, enterprise_id = context.team_id or "", context.enterprise_id
    workspaces(context).uninstall(team_id, enterprise_id)
    if workspaces(context).installations is None:
        logger.error("%s in %s: SLACK_BOT_TOKEN no longer works", what, team_id)
    else:
        logger.warning("%s in %s: forgetting the workspace", what, team_id)
    job = ForgetWorkspace(**origin(context, ""))
    queue(context).submit(job, key=f"{team_id}:{body.get('event_id')}")


def app_rate_limited(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Slack holds back a workspace's events for the rest of a minute once it sent 30,000 in an
    hour, and says so with this payload: it has no inner event, so no event listener sees it."""
    if body.get("type") != "app_rate_limited":
        return next()
    logger.error(
        "Slack is holding back the events of workspace %s from %s (app_rate_limited: over 30,000 "
        "events in an hour); photos shared meanwhile get no answer",
        body.get("team_id"),
        _minute(body.get("minute_rate_limited")),
    )
    return BoltResponse(status=200, body="")


def _minute(epoch: object) -> str:
    try:
        return datetime.fromtimestamp(float(str(epoch)), timezone.utc).strftime("%H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return "this minute"


def register(app: App) -> None:
    app.middleware(app_rate_limited)
    app.event("message")(message)
    app.event("app_home_opened")(app_home_opened)
    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
