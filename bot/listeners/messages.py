"""Image uploads: a `message` event with subtype `file_share` gets one threaded reply."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from bot.config import Settings, SettingsFor
from bot.jobs.detect import DetectImages
from bot.queue import Queue
from bot.slack.files import image_files


def register(app: App, queue: Queue, settings_for: SettingsFor) -> None:
    # One listener for every message subtype: a subscribed event with no listener is answered 404,
    # and Slack retries it.
    @app.event("message")
    def on_message(event: dict, context: BoltContext) -> None:
        if not _may_be_upload(event):
            return
        team_id = context.team_id or ""
        job = upload_job(event, settings_for(team_id), context, team_id)
        if job is not None:
            # One key per message, whichever event brought it (Slack's retries included).
            queue.submit(job, key=f"{job.team_id}:{job.channel}:{job.react_to}")


def _may_be_upload(event: dict) -> bool:
    return (
        event.get("subtype") == "file_share" and not event.get("bot_id") and "edited" not in event
    )


def upload_job(
    event: dict, settings: Settings, context: BoltContext, team_id: str
) -> DetectImages | None:
    """The detection an upload asks for, or None when the bot should stay quiet."""
    bot_user_id = context.bot_user_id
    channel = event.get("channel", "")
    if not settings.allows(channel):
        return None
    if not settings.auto_detect and f"<@{bot_user_id}>" not in (event.get("text") or ""):
        return None
    files = image_files(event.get("files") or [])
    if not files:
        return None
    ts = event["ts"]
    return DetectImages(
        team_id=team_id,
        enterprise_id=context.enterprise_id,
        channel=channel,
        classes=settings.detect_classes,
        thread_ts=event.get("thread_ts") or ts,
        files=tuple(files),
        react_to=ts,
    )
