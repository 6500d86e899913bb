"""Waiting in tests for what has no event of its own: a condition polled, or a log record."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `condition` became true within `timeout` (for state that has nothing to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


class LogWatch(logging.Handler):
    """Records from a logger, with a way to wait for one (the bot's only trace of some decisions)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def wait_for(self, match: Callable[[logging.LogRecord], bool], timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(map(match, self.records)), timeout)


@contextmanager
def watching(name: str) -> Iterator[LogWatch]:
    """The records of the logger `name` while entered."""
    watch = LogWatch()
    logger = logging.getLogger(name)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
