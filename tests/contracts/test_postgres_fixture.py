"""The throwaway PostgreSQL starts from the machine's binaries, answers, and leaves nothing behind."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.postgres import Postgres, throwaway_postgres


def test_the_session_server_answers_and_runs_without_fsync(postgres: Postgres) -> None:
    assert postgres.port != 5432  # the machine's own server is left alone
    assert postgres.url == f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
    with psycopg.connect(postgres.url) as connection:
        assert connection.execute("select 1").fetchone() == (1,)
        assert connection.execute("show fsync").fetchone() == ("off",)
        assert connection.execute("show listen_addresses").fetchone() == ("127.0.0.1",)


def test_create_database_gives_an_empty_database_of_its_own(postgres: Postgres) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    with psycopg.connect(first) as connection:
        connection.execute("create table installations (team_id text primary key)")
        connection.execute("insert into installations values ('T111')")
    with psycopg.connect(second) as connection:
        found = connection.execute("select to_regclass('installations')").fetchone()
        assert found == (None,)


def test_two_instances_are_separate_and_gone_after_exit() -> None:
    with throwaway_postgres() as one, throwaway_postgres() as two:
        assert one.port != two.port and one.directory != two.directory
        with psycopg.connect(one.url, autocommit=True) as connection:
            connection.execute("create table only_in_one (x int)")
        with psycopg.connect(two.url) as connection:
            assert connection.execute("select to_regclass('only_in_one')").fetchone() == (None,)
        assert (one.directory / "data" / "PG_VERSION").is_file()
    for instance in (one, two):
        assert not instance.directory.exists()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(instance.url, connect_timeout=2)
