"""Image uploads: a `message` event with subtype `file_share` gets one threaded reply."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext

from bot.config import Settings
from bot.pipeline import DetectionRequest, Pipeline
from bot.slack_files import image_files

logger = logging.getLogger(__name__)


def register(app: App, pipeline: Pipeline, settings: Settings) -> None:
    # One listener for every message subtype: a subscribed event with no listener is answered 404,
    # and Slack retries it.
    @app.event("message")
    def on_message(event: dict, context: BoltContext) -> None:
        request = upload_request(event, settings, context.bot_user_id)
        if request is not None:
            pipeline.submit(request)


def upload_request(
    event: dict, settings: Settings, bot_user_id: str | None
) -> DetectionRequest | None:
    """The detection an upload asks for, or None when the bot should stay quiet."""
    if event.get("subtype") != "file_share" or event.get("bot_id") or "edited" in event:
        return None
    channel = event.get("channel", "")
    if not settings.allows(channel):
        return None
    if not settings.auto_detect and f"<@{bot_user_id}>" not in (event.get("text") or ""):
        return None
    files = image_files(event.get("files") or [])
    if not files:
        return None
    ts = event["ts"]
    return DetectionRequest(
        channel=channel,
        classes=settings.detect_classes,
        thread_ts=event.get("thread_ts") or ts,
        files=tuple(files),
        react_to=ts,
        key=f"{channel}:{ts}",
    )
