"""The one place Bolt is wired: the App, what its listeners find in their context, its listeners, and
(for many workspaces) the OAuth flow."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.listeners import register_listeners
from bot.listeners.context import QUEUE, WORKSPACES
from bot.queue import Queue
from bot.sharedredis import Unavailable
from bot.slack.clients import make_web_client
from bot.workspaces.installations import InstalledAuthorize
from bot.workspaces.oauth import oauth_settings
from bot.workspaces.serving import Workspaces


def _not_the_same_token_twice(record: logging.LogRecord) -> bool:
    # Bolt also reads SLACK_BOT_TOKEN from the environment, and warns that the `client` given
    # (made with that same token) wins over it: true, and nothing to act on.
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(queue: Queue, workspaces: Workspaces) -> App:
    settings = workspaces.defaults
    logger = logging.getLogger("bot.bolt")
    logger.addFilter(_not_the_same_token_twice)
    installations = workspaces.installations
    if installations is None:
        app = App(
            client=make_web_client(settings, settings.slack_bot_token),
            signing_secret=settings.slack_signing_secret or "",
            # `python -m bot run` and `check` call auth.test themselves, with a readable message.
            token_verification_enabled=False,
            # Listeners only submit a job; Slack's answer waits for that, so nothing unqueued is acked.
            process_before_response=True,
            # The web process's edge checks every request before Bolt parses it, and never logs
            # one it refuses (bot/process/signed.py); Socket Mode's requests carry no signature.
            request_verification_enabled=False,
            logger=logger,
        )
    else:
        app = App(
            client=make_web_client(settings, None),
            signing_secret=settings.slack_signing_secret or "",
            oauth_settings=oauth_settings(settings, installations),
            # Bolt takes an Authorize as is (its hint says a callable returning a result).
            authorize=InstalledAuthorize(installations),  # type: ignore[arg-type]
            installation_store=installations.store,
            installation_store_bot_only=True,
            process_before_response=True,
            request_verification_enabled=False,  # as above
            logger=logger,
        )

    @app.middleware
    def provide(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context[QUEUE] = queue
        context[WORKSPACES] = workspaces
        return next()

    register_listeners(app)

    @app.error
    def on_error(error: Exception, logger: logging.Logger) -> BoltResponse | None:
        if isinstance(error, Unavailable):
            # Not 2xx: Slack delivers the request again later. The outage was logged.
            return BoltResponse(status=503, body="")
        logger.error("a listener failed", exc_info=error)
        return None  # Bolt answers 500

    return app
