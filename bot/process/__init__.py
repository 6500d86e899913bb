"""The processes: what `python -m bot run` (HTTP or Socket Mode) and `python -m bot worker` start."""

from __future__ import annotations

import gc
import signal

_STOP = {signal.SIGTERM, signal.SIGINT}


class StopSignal:
    """SIGTERM (a deploy) or SIGINT, received by the main thread when it waits for one.

    Make it before any thread starts: threads inherit the blocked signals, so that only `wait`
    receives them. (A signal handler that sets a threading.Event can deadlock: the signal may land
    while the main thread, waiting on that Event, holds its lock.)
    """

    def __init__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)

    def wait(self) -> None:
        signal.sigwait(_STOP)


def freeze_startup_objects() -> None:
    """Call once a process has built what it keeps until it exits (modules, the app, the clients):
    the garbage collector stops walking those objects, whose full collections stalled every request
    in flight (docs/decisions.md, "The processes")."""
    gc.freeze()
