"""Faults a test injects into the emulator's next answers to a method: an HTTP status (429 with
``Retry-After``, as Slack rate limits), a Slack error, a connection closed without an answer, or an
answer that takes its time (a slow Slack, or a request that never reaches it)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from tests.support.slack_emulator.arguments import JsonDict

Answered = tuple[int, JsonDict, dict[str, str]]  # status (0: no answer), body, headers


@dataclass
class Fault:
    status: int  # 0: close the connection without an answer
    retry_after: int | None = None
    error: str | None = None
    delay: float = 0.0  # seconds to wait first
    proceed: bool = False  # after the delay, answer the call as if there were no fault
    arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> Answered | None:
        """The answer instead of the method's (after the delay), or None to run the method."""
        self.arrived.set()
        time.sleep(self.delay)
        if self.proceed:
            return None
        if self.status == 0:
            return 0, {}, {}
        if self.error is not None:
            return 200, {"ok": False, "error": self.error}, {}
        if self.status == 429:
            headers = {"Retry-After": str(self.retry_after or 0)}
            return 429, {"ok": False, "error": "ratelimited"}, headers
        return self.status, {"ok": False, "error": "internal_error"}, {}


class Faults:
    """The faults queued per method (a method name, or a pseudo-method of files.py)."""

    _lock: threading.RLock
    _faults: dict[str, deque[Fault]]

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP ``status``.

        429 comes with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``, as Slack rate
        limits; other statuses with ``{"ok": false, "error": "internal_error"}``. ``method`` may also
        be ``FILE_DOWNLOAD`` or ``FILE_UPLOAD`` (files.py) for the file endpoints.
        """
        fault = Fault(status, retry_after if status == 429 else None)
        self._add_fault(method, fault, times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls to ``method`` without an answer, as a
        network failure would (slack_sdk's ConnectionErrorRetryHandler retries those)."""
        self._add_fault(method, Fault(0), times)

    def error_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with ``{"ok": false, "error": error}``."""
        self._add_fault(method, Fault(200, error=error), times)

    def slow_next(
        self, method: str, seconds: float, *, reaches_slack: bool = True
    ) -> threading.Event:
        """Hold the next call to ``method`` for ``seconds``, then answer it as usual; or, when it
        never ``reaches_slack``, close its connection without running the method (a request lost
        on the way: whoever made it cannot tell whether it took effect). The event is set when
        the call arrives (it is recorded once answered)."""
        fault = Fault(0, delay=seconds, proceed=reaches_slack)
        self._add_fault(method, fault, 1)
        return fault.arrived

    def _add_fault(self, method: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None
