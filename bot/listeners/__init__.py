"""Bolt listeners: each turns a Slack payload into a job, submits it and acks; nothing slower.

The app runs with `process_before_response`: Slack gets its answer once the listener returns, so a
job that could not be queued is never acked as taken (the queue raises, the app answers 503, and Slack
delivers the request again). That is also why listeners submit before they ack.

Each listener is a plain function of what Bolt passes it; what it needs of the process (the queue, the
workspaces) is in Bolt's `context`, put there by `app.build_app`'s middleware (see `context.py`).
"""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, commands, events, shortcuts, views


def register_listeners(app: App) -> None:
    events.register(app)
    commands.register(app)
    actions.register(app)
    shortcuts.register(app)
    views.register(app)
