"""The App Home: the tab is (re)published when a user opens it; "Edit settings" opens the modal;
its submission is checked here (errors go back into the modal, in the ack) and saved by a job."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext

from bot.config import SettingsFor
from bot.home import EDIT_SETTINGS_ACTION, SETTINGS_CALLBACK, parse_settings
from bot.jobs.home import OpenSettings, PublishHome, SaveSettings
from bot.queue import Queue

logger = logging.getLogger(__name__)


def register(app: App, queue: Queue, settings_for: SettingsFor, *, installed: bool) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, body: dict, context: BoltContext) -> None:
        if event.get("tab") == "home":
            queue.submit(
                PublishHome(
                    team_id=context.team_id or "",
                    enterprise_id=context.enterprise_id,
                    channel=event.get("channel", ""),
                    user=event["user"],
                ),
                key=body.get("event_id"),
            )

    @app.action(EDIT_SETTINGS_ACTION)
    def on_edit_settings(ack: Ack, body: dict, context: BoltContext) -> None:
        queue.submit(
            OpenSettings(
                team_id=context.team_id or "",
                enterprise_id=context.enterprise_id,
                channel="",
                user=body["user"]["id"],
                trigger_id=body["trigger_id"],
            )
        )
        ack()

    @app.view(SETTINGS_CALLBACK)
    def on_settings(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        team_id = context.team_id or ""
        embedded = settings_for(team_id).uses_embedded_api
        chosen = parse_settings(view["state"]["values"], embedded=embedded)
        if isinstance(chosen, dict):
            ack(response_action="errors", errors=chosen)
            return
        assert chosen.classes is not None and chosen.allowed_channels is not None
        queue.submit(
            SaveSettings(
                team_id=team_id,
                enterprise_id=context.enterprise_id,
                channel="",
                user=body["user"]["id"],
                classes=chosen.classes,
                auto_detect=bool(chosen.auto_detect),
                annotate=bool(chosen.annotate),
                allowed_channels=tuple(sorted(chosen.allowed_channels)),
            )
        )
        ack()

    if not installed:
        # With one SLACK_BOT_TOKEN there is no installation to delete: say what happened.
        @app.event("app_uninstalled")
        def on_uninstalled(context: BoltContext) -> None:
            logger.error(
                "the app was uninstalled from %s: SLACK_BOT_TOKEN no longer works", context.team_id
            )

        @app.event("tokens_revoked")
        def on_revoked(event: dict, context: BoltContext) -> None:
            logger.error("Slack revoked tokens in %s: check SLACK_BOT_TOKEN", context.team_id)
