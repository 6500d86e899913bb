"""The App Home's settings modal: its submission is checked here (errors go back into the modal, in
the ack) and saved by a job, which checks the user is an admin."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot.blocks.home import SETTINGS_CALLBACK, parse_settings
from bot.jobs.home import SaveSettings
from bot.listeners.context import origin, queue, workspace_settings


def settings_submitted(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    embedded = workspace_settings(context).embedded
    choices = parse_settings(view["state"]["values"], embedded=embedded)
    if isinstance(choices, dict):
        ack(response_action="errors", errors=choices)
        return
    assert choices.classes is not None and choices.allowed_channels is not None
    job = SaveSettings(
        **origin(context, "", body["user"]["id"]),
        classes=choices.classes,
        auto_detect=bool(choices.auto_detect),
        annotate=bool(choices.annotate),
        allowed_channels=tuple(sorted(choices.allowed_channels)),
    )
    queue(context).submit(job)
    ack()


def register(app: App) -> None:
    app.view(SETTINGS_CALLBACK)(settings_submitted)
