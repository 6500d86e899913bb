"""Start and stop everything a process needs: the API (hosted or embedded), the pipeline and the app.

With no `II_CLIENT_ID`, the embedded API starts on 127.0.0.1 with generated credentials and the same
client talks to it: one code path whichever API answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

from slack_bolt import App

from bot.app import build_app, make_web_client
from bot.config import Settings
from bot.imageintelligence import ImageIntelligenceClient
from bot.localapi import start_local_api
from bot.pipeline import Pipeline
from bot.slack_files import SlackFileDownloader
from bot.workqueue import WorkQueue

logger = logging.getLogger(__name__)


@contextmanager
def open_api(settings: Settings, *, pool_size: int = 10) -> Iterator[ImageIntelligenceClient]:
    """The API client for these settings; starts (and later stops) the embedded API when needed."""
    local = None
    if settings.uses_embedded_api:
        local = start_local_api(
            settings.local_api_client_id,
            settings.local_api_client_secret,
            workers=settings.local_api_workers,
        )
        logger.info("no II_CLIENT_ID set: using the embedded API at %s", local.base_url)
        client = ImageIntelligenceClient(
            local.client_id, local.client_secret, local.base_url, pool_size=pool_size
        )
    else:
        assert settings.ii_client_id and settings.ii_client_secret  # checked by load_settings
        client = ImageIntelligenceClient(
            settings.ii_client_id,
            settings.ii_client_secret,
            settings.ii_api_url,
            pool_size=pool_size,
        )
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.stop()


@dataclass
class Runtime:
    settings: Settings
    pipeline: Pipeline
    app: App

    def shutdown(self) -> None:
        """Stop taking work and finish (or interrupt) what is in flight within the grace period.

        Safe to call again: only the first call waits.
        """
        if self.pipeline.queue.stopped:
            return
        interrupted = self.pipeline.queue.shutdown(self.settings.shutdown_grace)
        logger.info("stopped; %d request(s) interrupted", interrupted)


@contextmanager
def running(settings: Settings) -> Iterator[Runtime]:
    """Everything the Slack app needs, started; shut down gracefully on exit."""
    with (
        open_api(settings, pool_size=settings.detect_workers) as api,
        closing(
            SlackFileDownloader(
                settings.slack_bot_token or "",
                slack_api_url=settings.slack_api_url,
                max_bytes=settings.max_image_bytes,
            )
        ) as downloader,
    ):
        web_client = make_web_client(settings)
        queue = WorkQueue(settings.detect_workers, settings.detect_workers + settings.detect_queue)
        pipeline = Pipeline(
            api,
            web_client,
            downloader,
            queue,
            verify=settings.detect_verify,
            timeout=settings.detect_timeout,
            annotate_images=settings.annotate,
        )
        runtime = Runtime(settings, pipeline, build_app(settings, pipeline))
        try:
            yield runtime
        finally:
            runtime.shutdown()
