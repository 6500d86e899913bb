"""`python -m bot worker`: run the jobs that web (or Socket Mode) processes put on the Redis queue.

Stops on SIGTERM (a deploy) or SIGINT: no more messages are taken, the runs in flight finish within
SHUTDOWN_GRACE, and every other message stays on the queue for the next worker.
"""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.process import StopSignal, freeze_startup_objects
from bot.process.runtime import working
from bot.sharedredis import where

logger = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    stop = StopSignal()
    with working(settings):
        freeze_startup_objects()
        logger.info(
            "working on the queue at %s with %d threads",
            where(settings.redis_url or ""),
            settings.detect_workers,
        )
        stop.wait()
        logger.info("stopping: no new jobs; finishing those in flight")
