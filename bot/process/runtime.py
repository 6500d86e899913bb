"""Start and stop what a process needs: the API (hosted or embedded), the queue, the jobs' context
and the Bolt app.

With no `II_CLIENT_ID`, the embedded API starts on 127.0.0.1 with generated credentials and the same
client talks to it: one code path whichever API answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

import requests
from slack_bolt import App

from bot.app import build_app
from bot.config import Settings
from bot.imageintelligence import ImageIntelligenceClient
from bot.jobs import Context, JobRunner
from bot.jobs.polling import BlockingPoller
from bot.jobs.progress import MemoryProgressStore
from bot.localapi import start_local_api
from bot.queue.memory import MemoryQueue
from bot.slack.clients import SingleWorkspace

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
    queue: MemoryQueue
    app: App

    def shutdown(self) -> None:
        """Stop taking work and finish (or interrupt) what is in flight within the grace period.

        Safe to call again: only the first call waits.
        """
        if self.queue.stopped:
            return
        interrupted = self.queue.shutdown(self.settings.shutdown_grace)
        logger.info("stopped; %d request(s) interrupted", interrupted)


@contextmanager
def running(settings: Settings) -> Iterator[Runtime]:
    """The single process: the Bolt app and the jobs it queues, run here on a thread pool; shut
    down gracefully on exit."""
    with (
        open_api(settings, pool_size=settings.detect_workers) as api,
        closing(requests.Session()) as session,
    ):
        ctx = Context(
            settings=settings,
            api=api,
            slack=SingleWorkspace(settings, session),
            progress=MemoryProgressStore(),
            poller=BlockingPoller(api, settings.detect_timeout),
        )
        queue = MemoryQueue(
            JobRunner(ctx), settings.detect_workers, settings.detect_workers + settings.detect_queue
        )
        runtime = Runtime(settings, queue, build_app(settings, queue))
        try:
            yield runtime
        finally:
            runtime.shutdown()
