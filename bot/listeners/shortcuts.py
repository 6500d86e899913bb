"""The "Detect objects" message shortcut: the same detection, on any message that has images."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot.jobs.detect import DetectImages
from bot.jobs.notice import Notice
from bot.listeners.context import origin, queue, workspace_settings
from bot.slack.files import image_files, kept

CALLBACK_ID = "detect_objects"


def detect_objects(ack: Ack, shortcut: dict, context: BoltContext) -> None:
    settings = workspace_settings(context)
    channel = shortcut["channel"]["id"]
    where = origin(context, channel, shortcut["user"]["id"])
    message = shortcut.get("message") or {}
    files = image_files(message.get("files") or [])
    if not settings.allows(channel):
        queue(context).submit(Notice(**where, notice="not_enabled"))
    elif not files:
        queue(context).submit(Notice(**where, notice="no_images"))
    else:
        job = DetectImages(
            **where,
            classes=settings.detect_classes,
            thread_ts=message.get("thread_ts") or message["ts"],
            files=tuple(kept(file) for file in files),
            react_to=message["ts"],
        )
        queue(context).submit(job)
    ack()


def register(app: App) -> None:
    app.shortcut(CALLBACK_ID)(detect_objects)
