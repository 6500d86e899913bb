"""The one place Bolt is wired: the Web API client, the App and its listeners."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.listeners import register_listeners
from bot.pipeline import Pipeline


def make_web_client(settings: Settings) -> WebClient:
    """A Web API client that retries what Slack asks to be retried: 429s, connection and server errors."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
        logger=logging.getLogger("slack_sdk.web"),
    )


def build_app(settings: Settings, pipeline: Pipeline) -> App:
    app = App(
        client=pipeline.slack,
        signing_secret=settings.slack_signing_secret or "",
        # `python -m bot run` and `check` call auth.test themselves, with a readable message.
        token_verification_enabled=False,
        logger=logging.getLogger("bot.bolt"),
    )
    register_listeners(app, pipeline, settings)
    return app
