"""The "Detect objects" message shortcut: the same detection, on any message that has images."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import replies
from bot.config import Settings
from bot.pipeline import DetectionRequest, Pipeline
from bot.slack_files import image_files

CALLBACK_ID = "detect_objects"


def register(app: App, pipeline: Pipeline, settings: Settings) -> None:
    @app.shortcut(CALLBACK_ID)
    def on_detect_objects(ack: Ack, shortcut: dict, client: WebClient) -> None:
        ack()
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        if not settings.allows(channel):
            client.chat_postEphemeral(
                channel=channel, user=user, **replies.notice("I am not enabled in this channel.")
            )
            return
        message = shortcut.get("message") or {}
        files = image_files(message.get("files") or [])
        if not files:
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                **replies.notice("That message has no images I can look at."),
            )
            return
        request = DetectionRequest(
            channel=channel,
            classes=settings.detect_classes,
            thread_ts=message.get("thread_ts") or message["ts"],
            files=tuple(files),
            react_to=message["ts"],
        )
        pipeline.submit(request, user=user)
