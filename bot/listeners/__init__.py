"""Bolt listeners: each turns a Slack payload into a job, submits it and acks; nothing slower.

The app runs with `process_before_response`: Slack gets its answer once the listener returns, so a
job that could not be queued is never acked as taken (the queue raises, Bolt answers 500, and Slack
delivers the request again). That is also why listeners submit before they ack.
"""

from __future__ import annotations

from slack_bolt import App

from bot.config import SettingsFor
from bot.listeners import actions, commands, home, messages, shortcuts
from bot.queue import Queue


def register_listeners(
    app: App, queue: Queue, settings_for: SettingsFor, *, installed: bool
) -> None:
    """`installed`: workspaces install the app through the OAuth flow (Bolt's own listeners
    then delete an installation on app_uninstalled and tokens_revoked)."""
    messages.register(app, queue, settings_for)
    commands.register(app, queue, settings_for)
    actions.register(app, queue)
    shortcuts.register(app, queue, settings_for)
    home.register(app, queue, settings_for, installed=installed)
