"""Each workspace's own settings, set by its admins in the App Home: their `Choices` override the
environment's defaults (DETECT_CLASSES, AUTO_DETECT, ANNOTATE, ALLOWED_CHANNELS) for that workspace, and
`WorkspaceSettings` is what then applies there.

Choices are kept in the database when there is one, else in Redis when web and worker processes share
one (in both, every process sees a change from the next request on), else in this process's memory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, cast

import redis
import sqlalchemy
from sqlalchemy.dialects import postgresql, sqlite

from bot.config import Settings
from bot.sharedredis import NAMESPACE, Outage
from bot.workspaces.database import Database


@dataclass(frozen=True)
class Choices:
    """What a workspace's admins chose; None keeps the environment's default."""

    classes: tuple[str, ...] | None = None
    auto_detect: bool | None = None  # False: only uploads that mention the bot
    annotate: bool | None = None
    allowed_channels: frozenset[str] | None = None  # empty: every channel

    def to_json(self) -> str:
        return json.dumps(
            {
                "classes": None if self.classes is None else list(self.classes),
                "auto_detect": self.auto_detect,
                "annotate": self.annotate,
                "allowed_channels": (
                    None if self.allowed_channels is None else sorted(self.allowed_channels)
                ),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Choices:
        data = json.loads(text)
        channels = data.get("allowed_channels")
        classes = data.get("classes")
        return cls(
            classes=None if classes is None else tuple(classes),
            auto_detect=data.get("auto_detect"),
            annotate=data.get("annotate"),
            allowed_channels=None if channels is None else frozenset(channels),
        )


@dataclass(frozen=True)
class WorkspaceSettings:
    """What applies in one workspace: its admins' choices over the environment's defaults."""

    detect_classes: tuple[str, ...]
    auto_detect: bool
    annotate: bool
    allowed_channels: frozenset[str]  # empty: every channel
    embedded: bool  # the embedded detector answers (no hosted API account)

    @classmethod
    def of(cls, choices: Choices, defaults: Settings) -> WorkspaceSettings:
        return cls(
            detect_classes=defaults.detect_classes if choices.classes is None else choices.classes,
            auto_detect=defaults.auto_detect
            if choices.auto_detect is None
            else choices.auto_detect,
            annotate=defaults.annotate if choices.annotate is None else choices.annotate,
            allowed_channels=(
                defaults.allowed_channels
                if choices.allowed_channels is None
                else choices.allowed_channels
            ),
            embedded=defaults.uses_embedded_api,
        )

    def allows(self, channel: str) -> bool:
        """Whether the bot answers in `channel`."""
        return not self.allowed_channels or channel in self.allowed_channels


class ChoicesStore(Protocol):
    def get(self, team_id: str) -> Choices: ...

    def save(self, team_id: str, choices: Choices) -> None: ...


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
