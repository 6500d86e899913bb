"""Start and stop what a process needs: the API (hosted or embedded), the queue, the jobs' context
and the Bolt app.

With no `II_CLIENT_ID`, the embedded API starts on 127.0.0.1 with generated credentials and the same
client talks to it: one code path whichever API answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

import redis
import requests
from slack_bolt import App

from bot.app import build_app
from bot.config import Settings
from bot.imageintelligence import ImageIntelligenceClient
from bot.jobs import Context, JobRunner
from bot.jobs.base import Poller, ProgressStore
from bot.jobs.polling import BlockingPoller, DeferringPoller
from bot.jobs.progress import MemoryProgressStore, RedisProgressStore
from bot.localapi import start_local_api
from bot.localapi.redisjobs import RedisJobStore
from bot.queue import Queue
from bot.queue.memory import MemoryQueue
from bot.queue.redis import DELAY_LATENESS, NAMESPACE, RedisQueue, RedisWorker, connect, make_broker
from bot.slack.clients import InstalledWorkspaces, SingleWorkspace, SlackClients, make_web_client
from bot.workspaces.database import Database
from bot.workspaces.installations import Installations
from bot.workspaces.settings import (
    DatabaseSettingsStore,
    Guard,
    MemorySettingsStore,
    RedisSettingsStore,
    SettingsStore,
)

logger = logging.getLogger(__name__)


@contextmanager
def open_api(
    settings: Settings, *, pool_size: int = 10, shared: redis.Redis | None = None
) -> Iterator[ImageIntelligenceClient]:
    """The API client for these settings; starts (and later stops) the embedded API when needed.
    With `shared`, the embedded API keeps its jobs in that Redis, where every worker's finds them."""
    local = None
    if settings.uses_embedded_api:
        local = start_local_api(
            settings.local_api_client_id,
            settings.local_api_client_secret,
            workers=settings.local_api_workers,
            allowed_private_hosts=settings.local_api_allow_private_hosts,
            max_image_bytes=settings.max_image_bytes,
            store=None if shared is None else RedisJobStore(shared, prefix=NAMESPACE),
            detail=settings.detect_detail,
        )
        logger.info("no II_CLIENT_ID set: using the embedded API at %s", local.base_url)
        client = ImageIntelligenceClient(
            local.client_id, local.client_secret, local.base_url, pool_size=pool_size
        )
    else:
        assert settings.ii_client_id and settings.ii_client_secret  # checked by load_settings
        client = ImageIntelligenceClient(
            settings.ii_client_id,
            settings.ii_client_secret,
            settings.ii_api_url,
            pool_size=pool_size,
        )
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.stop()


@dataclass
class Runtime:
    """A process that takes Slack's requests: the Bolt app and the queue it submits to."""

    settings: Settings
    queue: Queue
    app: App
    # What keeps the process from taking work (for /healthz), or None when all is well.
    trouble: Callable[[], str | None] = lambda: None

    def shutdown(self) -> None:
        """Stop taking work and finish (or interrupt) what is in flight within the grace period.

        Safe to call again: only the first call waits.
        """
        if self.queue.stopped:
            return
        interrupted = self.queue.shutdown(self.settings.shutdown_grace)
        logger.info("stopped; %d request(s) interrupted", interrupted)


@dataclass(frozen=True)
class Workspaces:
    """The workspaces a process serves: the Slack side of each, and what their admins chose.
    `installations` is set when they install the app through the OAuth flow."""

    slack: SlackClients
    chosen: SettingsStore
    installations: Installations | None

    def settings_for(self, settings: Settings, team_id: str) -> Settings:
        return self.chosen.get(team_id).apply(settings)


@contextmanager
def serving_workspaces(
    settings: Settings, shared: redis.Redis | None = None, guard: Guard | None = None
) -> Iterator[Workspaces]:
    """SLACK_BOT_TOKEN's one workspace, or (SLACK_CLIENT_ID) every installed one, with the
    database when DATABASE_URL names one. `shared`: the Redis of a process that shares its queue,
    whose reads `guard` runs (see RedisSettingsStore)."""
    database = Database(settings.database_url) if settings.database_url else None
    try:
        with closing(requests.Session()) as session:
            chosen = _settings_store(database, shared, guard)
            if not settings.many_workspaces:
                yield Workspaces(SingleWorkspace(settings, session), chosen, None)
                return
            assert database and settings.slack_client_id and settings.slack_client_secret
            installations = Installations(
                database,
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                client=make_web_client(settings, None),
                rotation=settings.slack_token_rotation,
            )
            slack = InstalledWorkspaces(installations, settings, session)
            yield Workspaces(slack, chosen, installations)
    finally:
        if database is not None:
            database.close()


@contextmanager
def running(settings: Settings) -> Iterator[Runtime]:
    """What `python -m bot run` serves. With REDIS_URL, the app only queues jobs for the worker
    processes; without, this process also runs them, on a thread pool. Shut down gracefully on exit."""
    if settings.redis_url:
        client = connect(settings.redis_url)
        queue = RedisQueue(client, make_broker(client, settings), settings.redis_url)
        try:
            with serving_workspaces(settings, client, queue.using) as workspaces:
                yield Runtime(
                    settings,
                    queue,
                    build_app(settings, queue, workspaces),
                    lambda: None if queue.healthy() else "redis: unreachable",
                )
        finally:
            client.close()
        return
    with (
        open_api(settings, pool_size=settings.detect_workers) as api,
        serving_workspaces(settings) as workspaces,
    ):
        ctx = job_context(
            settings,
            api,
            workspaces,
            MemoryProgressStore(),
            BlockingPoller(api, settings.detect_timeout),
        )
        memory = MemoryQueue(
            JobRunner(ctx), settings.detect_workers, settings.detect_workers + settings.detect_queue
        )
        runtime = Runtime(settings, memory, build_app(settings, memory, workspaces))
        try:
            yield runtime
        finally:
            runtime.shutdown()


def job_context(
    settings: Settings,
    api: ImageIntelligenceClient,
    workspaces: Workspaces,
    progress: ProgressStore,
    poller: Poller,
) -> Context:
    """What jobs run with, whichever queue runs them."""
    return Context(
        settings=settings,
        api=api,
        slack=workspaces.slack,
        progress=progress,
        poller=poller,
        chosen=workspaces.chosen,
    )


def _settings_store(
    database: Database | None, shared: redis.Redis | None, guard: Guard | None
) -> SettingsStore:
    """Where workspaces' settings are kept: where every process that serves them reads them."""
    if database is not None:
        return DatabaseSettingsStore(database)
    if shared is not None:
        return RedisSettingsStore(shared, prefix=NAMESPACE, guard=guard)
    return MemorySettingsStore()


@contextmanager
def working(settings: Settings) -> Iterator[RedisWorker]:
    """What `python -m bot worker` runs: the jobs on the Redis queue, `DETECT_WORKERS` at a time.
    Leaving the context stops taking messages and lets those running finish within the grace."""
    assert settings.redis_url  # checked by the worker command
    client = connect(settings.redis_url, patient=True)
    try:
        with (
            open_api(settings, pool_size=settings.detect_workers, shared=client) as api,
            serving_workspaces(settings, client) as workspaces,
        ):
            ctx = job_context(
                settings,
                api,
                workspaces,
                RedisProgressStore(client, prefix=NAMESPACE),
                DeferringPoller(api, settings.detect_timeout, lateness=DELAY_LATENESS),
            )
            worker = RedisWorker(
                make_broker(client, settings), JobRunner(ctx), settings.detect_workers
            )
            worker.start()
            try:
                yield worker
            finally:
                worker.stop(settings.shutdown_grace)
    finally:
        client.close()
