"""A throwaway PostgreSQL for tests, started from the server binaries on this machine.

Each instance gets its own temporary directory (data, socket, log) and a free port on 127.0.0.1,
runs with ``fsync`` off, and is stopped (``pg_ctl stop -m immediate``) and deleted on exit: nothing
is kept, and no other PostgreSQL on the machine (e.g. one on 5432) is used or touched.

    with throwaway_postgres() as pg:
        engine = sqlalchemy.create_engine(pg.url)          # postgresql://postgres@127.0.0.1:PORT/postgres
        other = pg.create_database()                       # the URL of a new, empty database

For pytest, the session-scoped fixture ``postgres`` (import ``postgres_fixture`` into a conftest).
``initdb`` refuses to run as root; as root, the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.faultserver import free_port

SERVER_USER = "postgres"  # the system account the server runs as when the tests run as root
# Durability traded for speed: the data is thrown away anyway.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass(frozen=True)
class Postgres:
    """A running throwaway server: ``url`` is its ``postgres`` database as superuser ``postgres``."""

    port: int
    directory: Path

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (default: a fresh name); its URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)


def server_binaries() -> Path:
    """The directory with ``initdb`` and ``pg_ctl``: where PATH's ``initdb`` really is, else the
    newest /usr/lib/postgresql/<version>/bin (Debian's layout, not on PATH by default)."""
    on_path = shutil.which("initdb")
    candidates = [Path(os.path.realpath(on_path)).parent] if on_path else []
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found (apt-get install postgresql)")


def _run(command: list[str | Path], as_server_user: bool) -> None:
    """Run a server command, as the server user when we are root; its output on failure."""
    argv = [str(part) for part in command]
    if as_server_user:
        argv = ["runuser", "-u", SERVER_USER, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


@contextmanager
def throwaway_postgres(timeout: int = 60) -> Iterator[Postgres]:
    """Start a new PostgreSQL; stop it and delete all its files on exit."""
    binaries = server_binaries()
    as_root = os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="throwaway-postgres-"))
    data = directory / "data"
    try:
        if as_root:
            shutil.chown(directory, SERVER_USER, SERVER_USER)
        _run(
            [binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            as_root,
        )  # fmt: skip
        port = free_port()
        settings = {**SETTINGS, "port": str(port), "unix_socket_directories": f"'{directory}'"}
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        _run(
            [binaries / "pg_ctl", "start", "-D", data, "-l", directory / "server.log", "-w",
             "-t", str(timeout)],
            as_root,
        )  # fmt: skip
        try:
            yield Postgres(port, directory)
        finally:
            _run([binaries / "pg_ctl", "stop", "-D", data, "-m", "immediate", "-w"], as_root)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[Postgres]:
    """One throwaway PostgreSQL for the test session (``create_database()`` isolates tests)."""
    with throwaway_postgres() as running:
        yield running
