"""Where workspaces' `Choices` are kept: in the database when there is one, else in Redis when web and
worker processes share one (in both, every process sees a change from the next request on), else in
this process's memory."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol, cast

import redis
import sqlalchemy
from sqlalchemy.dialects import postgresql, sqlite

from bot.sharedredis import NAMESPACE, Outage
from bot.workspaces.database import Database
from bot.workspaces.settings import Choices


class ChoicesStore(Protocol):
    def get(self, team_id: str) -> Choices: ...

    def save(self, team_id: str, choices: Choices) -> None: ...

    def forget(self, team_id: str) -> None:
        """Delete the workspace's choices."""
        ...


class MemoryChoices:
    """For one process with nowhere else to keep them: kept while it runs."""

    def __init__(self) -> None:
        self._choices: dict[str, Choices] = {}
        self._lock = threading.Lock()

    def get(self, team_id: str) -> Choices:
        with self._lock:
            return self._choices.get(team_id, Choices())

    def save(self, team_id: str, choices: Choices) -> None:
        with self._lock:
            self._choices[team_id] = choices

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._choices.pop(team_id, None)


class RedisChoices:
    """For processes that share Redis and no database: every process reads the workspace's key on
    each request, so a change applies at once. Reads and writes go through the process's `Outage`."""

    def __init__(self, client: redis.Redis, outage: Outage) -> None:
        self._client = client
        self._outage = outage

    def get(self, team_id: str) -> Choices:
        text = cast(bytes | None, self._outage.run(lambda: self._client.get(self._key(team_id))))
        return Choices() if text is None else Choices.from_json(text.decode())

    def save(self, team_id: str, choices: Choices) -> None:
        self._outage.run(lambda: self._client.set(self._key(team_id), choices.to_json()))

    def forget(self, team_id: str) -> None:
        self._outage.run(lambda: self._client.delete(self._key(team_id)))

    @staticmethod
    def _key(team_id: str) -> str:
        return f"{NAMESPACE}:settings:{team_id}"


_INSERTS: dict[str, Callable[[sqlalchemy.Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class DatabaseChoices:
    """Every process reads the workspace's row on each request, so a change applies at once."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        metadata = sqlalchemy.MetaData()
        self._table = sqlalchemy.Table(
            "workspace_settings",
            metadata,
            sqlalchemy.Column("team_id", sqlalchemy.String(32), primary_key=True),
            sqlalchemy.Column("settings", sqlalchemy.Text, nullable=False),
            sqlalchemy.Column("updated_at", sqlalchemy.DateTime, nullable=False),
        )
        with database.exclusive("create tables"):
            metadata.create_all(self._engine)

    def get(self, team_id: str) -> Choices:
        query = sqlalchemy.select(self._table.c.settings).where(self._table.c.team_id == team_id)
        with self._engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        return Choices() if text is None else Choices.from_json(text)

    def save(self, team_id: str, choices: Choices) -> None:
        row = {"settings": choices.to_json(), "updated_at": datetime.now(timezone.utc)}
        # One statement, so that two processes saving a workspace's first settings cannot both
        # insert (DATABASE_URL is PostgreSQL or SQLite, which both have ON CONFLICT).
        insert = _INSERTS[self._engine.dialect.name](self._table).values(team_id=team_id, **row)
        upsert = insert.on_conflict_do_update(index_elements=[self._table.c.team_id], set_=row)
        with self._engine.begin() as conn:
            conn.execute(upsert)

    def forget(self, team_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(sqlalchemy.delete(self._table).where(self._table.c.team_id == team_id))
