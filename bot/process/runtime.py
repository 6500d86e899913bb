"""Start and stop what a process needs: the API (hosted or embedded), the queue, the jobs' context
and the Bolt app.

With no `II_CLIENT_ID`, the embedded API starts on 127.0.0.1 with generated credentials and the same
client talks to it: one code path whichever API answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dramatiq.brokers.redis import RedisBroker
from slack_bolt import App

from bot.app import build_app
from bot.config import Settings
from bot.imageintelligence.client import ImageIntelligenceClient
from bot.jobs import Context, JobRunner
from bot.jobs.steps import MemoryJournals, RedisJournals
from bot.localapi.service import RunningLocalApi, start_local_api
from bot.process.signed import MemoryReplays, RedisReplays, Replays
from bot.queue import Queue
from bot.queue.admission import admission_for
from bot.queue.memory import MemoryQueue
from bot.queue.redis import RedisQueue, RedisWorker, forget_team, make_broker
from bot.sharedredis import NAMESPACE, Outage, connect
from bot.workspaces.serving import serving_workspaces

logger = logging.getLogger(__name__)


@contextmanager
def open_api(settings: Settings, *, pool_size: int = 10) -> Iterator[ImageIntelligenceClient]:
    """The API client for these settings; starts (and later stops) the embedded API when needed."""
    with _serving_api(settings, pool_size=pool_size) as (client, _):
        yield client


@contextmanager
def _serving_api(
    settings: Settings, *, pool_size: int, broker: RedisBroker | None = None
) -> Iterator[tuple[ImageIntelligenceClient, RunningLocalApi | None]]:
    """`open_api`'s client, and the embedded API when it runs in this process. With `broker` (a
    worker process's), the embedded API keeps its jobs in that Redis, where every worker's finds
    them, and puts each image on the broker for any worker to run."""
    local = None
    if settings.uses_embedded_api:
        local = start_local_api(
            settings.local_api_client_id,
            settings.local_api_client_secret,
            workers=settings.local_api_workers,
            allowed_private_hosts=settings.local_api_allow_private_hosts,
            max_image_bytes=settings.max_image_bytes,
            broker=broker,
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
        yield client, local
    finally:
        client.close()
        if local is not None:
            local.stop()


def _forgetting(*forgets: Callable[[str], object] | None) -> Callable[[str], None]:
    """Forget a workspace everywhere it is kept (`Context.forget`)."""

    def forget(team_id: str) -> None:
        for each in forgets:
            if each is not None:
                each(team_id)

    return forget


@dataclass
class Runtime:
    """A process that takes Slack's requests: the Bolt app and the queue it submits to."""

    settings: Settings
    queue: Queue
    app: App
    # What keeps the process from taking work (for /healthz), or None when all is well.
    health_problem: Callable[[], str | None] = lambda: None
    # The signed requests already taken (bot/process/signed.py): in the queue's Redis, if any.
    replays: Replays = field(default_factory=MemoryReplays)

    def shutdown(self) -> None:
        """Stop taking work and finish (or interrupt) what is in flight within the grace period.

        Safe to call again: only the first call waits.
        """
        if self.queue.stopped:
            return
        interrupted = self.queue.shutdown(self.settings.shutdown_grace)
        logger.info("stopped; %d request(s) interrupted", interrupted)


@contextmanager
def running(settings: Settings) -> Iterator[Runtime]:
    """What `python -m bot run` serves. With REDIS_URL, the app only queues jobs for the worker
    processes; without, this process also runs them, on a thread pool. Shut down gracefully on exit."""
    if settings.redis_url:
        client = connect(settings.redis_url)
        outage = Outage(settings.redis_url)
        queue = RedisQueue(
            client,
            make_broker(client, settings),
            outage,
            admission_for(settings, client),
            settings.detect_queue,
        )
        try:
            with serving_workspaces(settings, client, outage) as workspaces:
                yield Runtime(
                    settings,
                    queue,
                    build_app(queue, workspaces),
                    lambda: None if outage.healthy(client) else "redis: unreachable",
                    RedisReplays(client, outage),
                )
        finally:
            client.close()
        return
    with (
        _serving_api(settings, pool_size=settings.detect_workers) as (api, local),
        serving_workspaces(settings) as workspaces,
    ):
        journals = MemoryJournals()
        forget = _forgetting(
            workspaces.choices.forget, journals.forget, local.forget_feed if local else None
        )
        ctx = Context(settings, api, workspaces, journals, forget)
        admission = admission_for(settings)
        memory = MemoryQueue(
            JobRunner(ctx, admission.release),
            settings.detect_workers,
            settings.detect_workers + settings.detect_queue,
            admission,
        )
        runtime = Runtime(settings, memory, build_app(memory, workspaces))
        try:
            yield runtime
        finally:
            runtime.shutdown()


@contextmanager
def working(settings: Settings) -> Iterator[RedisWorker]:
    """What `python -m bot worker` runs: the jobs on the Redis queue, `DETECT_WORKERS` at a time.
    Leaving the context stops taking messages and lets those running finish within the grace."""
    assert settings.redis_url  # checked by the worker command
    client = connect(settings.redis_url, patient=True)
    broker = make_broker(client, settings)
    try:
        with (
            _serving_api(settings, pool_size=settings.detect_workers, broker=broker) as (
                api,
                local,
            ),
            serving_workspaces(settings, client, Outage(settings.redis_url)) as workspaces,
        ):
            journals = RedisJournals(client, prefix=NAMESPACE)
            forget = _forgetting(
                workspaces.choices.forget,
                journals.forget,
                lambda team_id: forget_team(client, team_id),
                local.forget_feed if local else None,
            )
            ctx = Context(settings, api, workspaces, journals, forget)
            runner = JobRunner(ctx, admission_for(settings, client).release)
            worker = RedisWorker(broker, runner, settings.detect_workers)
            worker.start()
            try:
                yield worker
            finally:
                worker.stop(settings.shutdown_grace)
    finally:
        client.close()
