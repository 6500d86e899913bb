"""The database of a many-workspace deployment: PostgreSQL (several processes) or SQLite (one).

`DATABASE_URL` names it; config.py has already turned a PaaS's `postgres://` into the URL SQLAlchemy
takes. `exclusive(name)` lets one process at a time do something (refresh a workspace's token):
a PostgreSQL advisory lock across processes, a plain lock within the one SQLite process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy.engine import Engine


class Database:
    def __init__(self, url: str) -> None:
        self.engine: Engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
        self._local = threading.Lock()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock called `name` while the block runs; waits for its holder."""
        if self.engine.dialect.name != "postgresql":
            with self._local:
                yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    def close(self) -> None:
        self.engine.dispose()
