"""`python -m bot run --socket-mode`: the app connected to Slack over a WebSocket (no public URL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.config import Settings
from bot.process import StopSignal, freeze_startup_objects
from bot.process.runtime import Runtime, running

logger = logging.getLogger(__name__)


def run_socket_mode(settings: Settings) -> None:
    stop = StopSignal()
    with running(settings) as runtime, connected(runtime):
        freeze_startup_objects()
        logger.info("connected over Socket Mode")
        stop.wait()
        logger.info("stopping: no new work; finishing what is in flight")


@contextmanager
def connected(runtime: Runtime) -> Iterator[SocketModeHandler]:
    """The app connected over Socket Mode with SLACK_APP_TOKEN; disconnected on exit."""
    handler = SocketModeHandler(runtime.app, runtime.settings.slack_app_token)
    handler.connect()
    try:
        yield handler
    finally:
        # slack_sdk takes 1-3 s to close the socket: let the grace period for work in flight run
        # meanwhile, or the two together outlast a PaaS's 30 s before SIGKILL.
        closer = threading.Thread(target=handler.close, name="socket-mode-close")
        closer.start()
        runtime.shutdown()
        closer.join()
