"""`/detect`: acked at once, with the usage or the problem as an ephemeral answer when the text is wrong."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot import command_text, replies
from bot.command_text import Detect, Help, ShowJob, UsageError
from bot.config import Settings
from bot.pipeline import DetectionRequest, Pipeline


def register(app: App, pipeline: Pipeline, settings: Settings) -> None:
    @app.command("/detect")
    def on_detect(ack: Ack, command: dict) -> None:
        channel, user = command["channel_id"], command["user_id"]
        try:
            parsed = command_text.parse(command.get("text") or "")
        except UsageError as problem:
            ack(**replies.usage_error(str(problem)))
            return
        if isinstance(parsed, Help):
            ack(**replies.help_message(settings.detect_classes))
            return
        if not settings.allows(channel):
            ack(**replies.notice("I am not enabled in this channel."))
            return
        ack()
        if isinstance(parsed, ShowJob):
            pipeline.submit_job_lookup(channel, user, parsed.job_id)
        elif isinstance(parsed, Detect):
            request = DetectionRequest(
                channel=channel,
                classes=parsed.classes or settings.detect_classes,
                urls=parsed.urls,
                announce_for=user,
            )
            pipeline.submit(request, user=user)
