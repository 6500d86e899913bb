"""Events: image uploads (a `message` with subtype `file_share` gets one threaded reply), the App Home
being opened, the app being uninstalled, and Slack holding a workspace's events back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from slack_bolt import App, BoltContext, BoltResponse

from bot.jobs.detect import DetectImages
from bot.jobs.home import PublishHome
from bot.listeners.context import origin, queue, workspace_settings
from bot.slack.files import image_files

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
        **origin(context, channel),
        classes=settings.detect_classes,
        thread_ts=event.get("thread_ts") or ts,
        files=tuple(files),
        react_to=ts,
    )
    # One key per message, whichever event brought it (Slack's retries included).
    queue(context).submit(job, key=f"{job.team_id}:{channel}:{ts}")


def app_home_opened(event: dict, body: dict, context: BoltContext) -> None:
    if event.get("tab") == "home":
        job = PublishHome(**origin(context, event.get("channel", ""), event["user"]))
        queue(context).submit(job, key=body.get("event_id"))


def app_uninstalled(context: BoltContext) -> None:
    logger.error(
        "the app was uninstalled from %s: SLACK_BOT_TOKEN no longer works", context.team_id
    )


def tokens_revoked(context: BoltContext) -> None:
    logger.error("Slack revoked tokens in %s: check SLACK_BOT_TOKEN", context.team_id)


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


def register(app: App, *, installed: bool) -> None:
    app.middleware(app_rate_limited)
    app.event("message")(message)
    app.event("app_home_opened")(app_home_opened)
    if not installed:
        # With one SLACK_BOT_TOKEN there is no installation to delete: say what happened.
        app.event("app_uninstalled")(app_uninstalled)
        app.event("tokens_revoked")(tokens_revoked)
