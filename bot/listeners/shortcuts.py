"""The "Detect objects" message shortcut: the same detection, on any message that has images."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot.config import SettingsFor
from bot.jobs.detect import DetectImages
from bot.jobs.notice import Notice
from bot.queue import Queue
from bot.slack.files import image_files

CALLBACK_ID = "detect_objects"


def register(app: App, queue: Queue, settings_for: SettingsFor) -> None:
    @app.shortcut(CALLBACK_ID)
    def on_detect_objects(ack: Ack, shortcut: dict, context: BoltContext) -> None:
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        team_id = context.team_id or ""
        where = {"team_id": team_id, "enterprise_id": context.enterprise_id, "channel": channel}
        settings = settings_for(team_id)
        message = shortcut.get("message") or {}
        files = image_files(message.get("files") or [])
        if not settings.allows(channel) or not files:
            notice = "not_enabled" if not settings.allows(channel) else "no_images"
            queue.submit(Notice(**where, user=user, notice=notice))
        else:
            queue.submit(
                DetectImages(
                    **where,
                    user=user,
                    classes=settings.detect_classes,
                    thread_ts=message.get("thread_ts") or message["ts"],
                    files=tuple(files),
                    react_to=message["ts"],
                )
            )
        ack()
