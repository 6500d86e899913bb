"""The bytes a process lets its image decodes hold at once, shared first come, first served."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


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
