"""`/detect`: the usage or the problem is the ack's answer when the text is wrong; other work is a job."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot import command_text, replies
from bot.classes import NEEDS_EMBEDDED, everything
from bot.command_text import Detect, Help, ShowJob, UsageError
from bot.config import SettingsFor
from bot.jobs import show_job
from bot.jobs.detect import DetectImages
from bot.localapi.vocabulary import CLASS_GROUPS
from bot.queue import Queue


def register(app: App, queue: Queue, settings_for: SettingsFor) -> None:
    @app.command("/detect")
    def on_detect(ack: Ack, command: dict, context: BoltContext) -> None:
        channel, user = command["channel_id"], command["user_id"]
        team_id = context.team_id or ""
        where = {"team_id": team_id, "enterprise_id": context.enterprise_id, "channel": channel}
        settings = settings_for(team_id)
        try:
            parsed = command_text.parse(command.get("text") or "")
        except UsageError as problem:
            ack(**replies.usage_error(str(problem)))
            return
        if isinstance(parsed, Help):
            groups = CLASS_GROUPS if settings.uses_embedded_api else ()
            ack(**replies.help_message(settings.detect_classes, groups))
            return
        if (
            isinstance(parsed, Detect)
            and everything(parsed.classes)
            and not settings.uses_embedded_api
        ):
            ack(**replies.usage_error(NEEDS_EMBEDDED))
            return
        if not settings.allows(channel):
            ack(**replies.notice("I am not enabled in this channel."))
            return
        if isinstance(parsed, ShowJob):
            queue.submit(show_job.ShowJob(**where, user=user, api_job_id=parsed.job_id))
        elif isinstance(parsed, Detect):
            queue.submit(
                DetectImages(
                    **where,
                    user=user,
                    classes=parsed.classes or settings.detect_classes,
                    urls=parsed.urls,
                    announce=True,
                )
            )
        ack()
