"""`/detect`: the usage or the problem is the ack's answer when the text is wrong; other work is a job."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot import blocks, command_text
from bot.command_text import CommandError, Detect, Help, LookUpJob
from bot.jobs.detect import DetectImages
from bot.jobs.show_job import ShowJob
from bot.listeners.context import origin, queue, workspace_settings
from bot.vocabulary import CLASS_GROUPS, NEEDS_EMBEDDED, everything


def detect(ack: Ack, command: dict, context: BoltContext) -> None:
    settings = workspace_settings(context)
    try:
        parsed = command_text.parse(command.get("text") or "")
    except CommandError as problem:
        ack(**blocks.usage_error(str(problem)))
        return
    if isinstance(parsed, Help):
        groups = CLASS_GROUPS if settings.embedded else ()
        ack(**blocks.help_message(settings.detect_classes, groups))
        return
    if isinstance(parsed, Detect) and everything(parsed.classes) and not settings.embedded:
        ack(**blocks.usage_error(NEEDS_EMBEDDED))
        return
    channel = command["channel_id"]
    if not settings.allows(channel):
        ack(**blocks.notice("I am not enabled in this channel."))
        return
    where = origin(context, channel, command["user_id"])
    if isinstance(parsed, LookUpJob):
        queue(context).submit(ShowJob(**where, api_job_id=parsed.job_id))
    else:
        classes = parsed.classes or settings.detect_classes
        job = DetectImages(
            **where,
            classes=classes,
            urls=parsed.urls,
            announce=True,
            bot_user=context.bot_user_id,
        )
        queue(context).submit(job)
    ack()


def register(app: App) -> None:
    app.command("/detect")(detect)
