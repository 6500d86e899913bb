"""The bytes a process lets its image decodes hold at once, shared first come, first served; and
the allocator set so that what they free leaves the process."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

# glibc's mallopt() parameter, and the size from which blocks are mapped and unmapped on their own.
_M_MMAP_THRESHOLD = -3
_MAPPED_FROM = 1 << 20


def give_back_freed_blocks() -> None:
    """Make glibc return each freed block of 1 MiB or more to the system at once.

    By default glibc raises this threshold to the size of the largest block freed so far (up to
    32 MiB), after which blocks the size of an image come from its heaps and stay in the process's
    RSS once freed: during a job of 64 hostile images the embedded API's peak RSS rose 384 MiB
    over its idle size this way, 187 MiB with the threshold fixed (BENCHMARKS.md, bench_decode).
    Other C libraries have no mallopt(): nothing is changed there.
    """
    libc = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(libc), "mallopt", None) if libc else None
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM)


class Budget:
    """`hold(n)` waits until `n` of the `total` bytes are free and keeps them until it exits.

    Waiters are served in order, so a large decode is not passed over for ever by small ones.
    Thread-safe.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._held = 0
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"Budget(total={self.total})"

    @property
    def waiting(self) -> int:
        """How many wait for their share."""
        with self._changed:
            return len(self._line)

    @contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        if not 0 <= amount <= self.total:
            raise ValueError(f"{amount} bytes is outside a budget of {self.total}")
        turn = object()
        with self._changed:
            self._line.append(turn)
            self._changed.wait_for(
                lambda: self._line[0] is turn and self._held + amount <= self.total
            )
            self._line.popleft()
            self._held += amount
            self._changed.notify_all()  # the next in line may fit beside this one
        try:
            yield
        finally:
            with self._changed:
                self._held -= amount
                self._changed.notify_all()
