"""Each workspace's own settings, set by its admins in the App Home: they override the environment's
defaults (DETECT_CLASSES, AUTO_DETECT, ANNOTATE, ALLOWED_CHANNELS) for that workspace.

Kept in the database when there is one, else in Redis when web and worker processes share one (in
both, every process sees a change from the next request on), else in this process's memory.
"""

from __future__ import annotations

import dataclasses
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
from bot.workspaces.database import Database


@dataclass(frozen=True)
class WorkspaceSettings:
    """What a workspace's admins chose; None keeps the environment's default."""

    classes: tuple[str, ...] | None = None
    auto_detect: bool | None = None  # False: only uploads that mention the bot
    annotate: bool | None = None
    allowed_channels: frozenset[str] | None = None  # empty: every channel

    def apply(self, settings: Settings) -> Settings:
        """The settings the bot uses in this workspace."""
        return dataclasses.replace(
            settings,
            detect_classes=settings.detect_classes if self.classes is None else self.classes,
            auto_detect=settings.auto_detect if self.auto_detect is None else self.auto_detect,
            annotate=settings.annotate if self.annotate is None else self.annotate,
            allowed_channels=(
                settings.allowed_channels
                if self.allowed_channels is None
                else self.allowed_channels
            ),
        )

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
    def from_json(cls, text: str) -> WorkspaceSettings:
        data = json.loads(text)
        channels = data.get("allowed_channels")
        classes = data.get("classes")
        return cls(
            classes=None if classes is None else tuple(classes),
            auto_detect=data.get("auto_detect"),
            annotate=data.get("annotate"),
            allowed_channels=None if channels is None else frozenset(channels),
        )


_INSERTS: dict[str, Callable[[sqlalchemy.Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class SettingsStore(Protocol):
    def get(self, team_id: str) -> WorkspaceSettings: ...

    def save(self, team_id: str, chosen: WorkspaceSettings) -> None: ...


class MemorySettingsStore:
    """For the single workspace of SLACK_BOT_TOKEN: kept while the process runs."""

    def __init__(self) -> None:
        self._chosen: dict[str, WorkspaceSettings] = {}
        self._lock = threading.Lock()

    def get(self, team_id: str) -> WorkspaceSettings:
        with self._lock:
            return self._chosen.get(team_id, WorkspaceSettings())

    def save(self, team_id: str, chosen: WorkspaceSettings) -> None:
        with self._lock:
            self._chosen[team_id] = chosen


Guard = Callable[[Callable[[], WorkspaceSettings]], WorkspaceSettings]


class RedisSettingsStore:
    """For SLACK_BOT_TOKEN's workspace served by processes that share Redis and no database: every
    process reads the workspace's key on each request, so a change applies at once."""

    def __init__(self, client: redis.Redis, *, prefix: str, guard: Guard | None = None) -> None:
        """`guard` runs each read: a web process's queue, which answers Slack 503 while Redis
        cannot be reached (`RedisQueue.using`)."""
        self._client = client
        self._prefix = prefix
        self._guard = guard

    def get(self, team_id: str) -> WorkspaceSettings:
        return self._guard(lambda: self._get(team_id)) if self._guard else self._get(team_id)

    def _get(self, team_id: str) -> WorkspaceSettings:
        text = cast(bytes | None, self._client.get(self._key(team_id)))
        return WorkspaceSettings() if text is None else WorkspaceSettings.from_json(text.decode())

    def save(self, team_id: str, chosen: WorkspaceSettings) -> None:
        self._client.set(self._key(team_id), chosen.to_json())

    def _key(self, team_id: str) -> str:
        return f"{self._prefix}:settings:{team_id}"


class DatabaseSettingsStore:
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

    def get(self, team_id: str) -> WorkspaceSettings:
        query = sqlalchemy.select(self._table.c.settings).where(self._table.c.team_id == team_id)
        with self._engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        return WorkspaceSettings() if text is None else WorkspaceSettings.from_json(text)

    def save(self, team_id: str, chosen: WorkspaceSettings) -> None:
        row = {"settings": chosen.to_json(), "updated_at": datetime.now(timezone.utc)}
        # One statement, so that two processes saving a workspace's first settings cannot both
        # insert (DATABASE_URL is PostgreSQL or SQLite, which both have ON CONFLICT).
        insert = _INSERTS[self._engine.dialect.name](self._table).values(team_id=team_id, **row)
        upsert = insert.on_conflict_do_update(index_elements=[self._table.c.team_id], set_=row)
        with self._engine.begin() as conn:
            conn.execute(upsert)
