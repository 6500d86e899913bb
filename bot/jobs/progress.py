"""Where jobs record the steps they have taken: a small map per job id.

`MemoryProgressStore` serves the single process: it remembers the most recent jobs (a job's record
is only read while it runs, and by a shutdown that interrupts it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class _MemoryProgress:
    def __init__(self, steps: dict[str, str], lock: threading.Lock) -> None:
        self._steps = steps
        self._lock = lock

    def get(self, step: str) -> str | None:
        with self._lock:
            return self._steps.get(step)

    def claim(self, step: str, value: str) -> bool:
        with self._lock:
            if step in self._steps:
                return False
            self._steps[step] = value
            return True

    def set(self, step: str, value: str) -> None:
        with self._lock:
            self._steps[step] = value


class MemoryProgressStore:
    def __init__(self, remember: int = 10_000) -> None:
        self._jobs: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def of(self, job_id: str) -> _MemoryProgress:
        with self._lock:
            steps = self._jobs.get(job_id)
            if steps is None:
                steps = self._jobs[job_id] = {}
                if len(self._jobs) > self._remember:
                    self._jobs.popitem(last=False)
            return _MemoryProgress(steps, self._lock)
