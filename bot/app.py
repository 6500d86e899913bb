"""The one place Bolt is wired: the App and its listeners."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse

from bot.config import Settings
from bot.listeners import register_listeners
from bot.queue import Queue, QueueUnavailable
from bot.slack.clients import make_web_client


def build_app(settings: Settings, queue: Queue) -> App:
    app = App(
        client=make_web_client(settings, settings.slack_bot_token),
        signing_secret=settings.slack_signing_secret or "",
        # `python -m bot run` and `check` call auth.test themselves, with a readable message.
        token_verification_enabled=False,
        # Listeners only submit a job; Slack's answer waits for that, so nothing unqueued is acked.
        process_before_response=True,
        logger=logging.getLogger("bot.bolt"),
    )
    register_listeners(app, queue, settings)

    @app.error
    def on_error(error: Exception, logger: logging.Logger) -> BoltResponse | None:
        if isinstance(error, QueueUnavailable):
            # Not 2xx: Slack delivers the request again later. The queue logged the outage.
            return BoltResponse(status=503, body="")
        logger.error("a listener failed", exc_info=error)
        return None  # Bolt answers 500

    return app
