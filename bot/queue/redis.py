"""The shared queue: web processes submit jobs to Redis, worker processes run them (Dramatiq).

Dramatiq's Redis broker acknowledges a message only after its work is done, and a maintenance step
puts the messages of a worker whose heartbeat stopped back on the queue; delayed messages need no
extra scheduler. Its defaults suit batch jobs (20 retries over a week, a 60 s heartbeat, maintenance
on one fetch in a thousand); here they are tuned for chat:

- a few retries with a short back-off, then the user is told (`JobRunner.give_up`);
- a dead worker's messages are back on the queue within about 20 s, even when traffic is low:
  heartbeats count as stale after WORKER_DEAD_AFTER (15 s), and every fetch has a 5 % chance of
  running maintenance (idle workers fetch about ten times a second per queue, so some worker runs
  it about every second; it costs two sorted-set reads);
- a time limit per run that fits DETECT_TIMEOUT;
- a run that must wait (a poll of a slow API job) is a delayed message (`RunAgain`), so no worker
  thread waits on the API.

A delivery Slack may repeat (its retries carry the same event) becomes the same job wherever it
arrives: its job id is derived from its key, so two runs of it share one record of the steps taken
(`jobs.steps.take_once`) and answer once. Once queued, the delivery is marked in Redis (`SET key EX 86400`),
and a retry that finds the mark, in any web process, is not queued again. The mark is written only
after the job is queued: a Redis that hangs may run a command after the web process gave up on it,
and a mark run late must not stand for a job that never was queued (a retry queues it again, as the
same job). When Redis cannot be reached, `submit` raises `sharedredis.Unavailable`: the web process answers
Slack 503 (it delivers the event again later) rather than acknowledging work it dropped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from typing import Any

import redis
from dramatiq import Actor, Message, Worker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries, TimeLimit

from bot.blocks.errors import BUSY, Refusal
from bot.config import Settings
from bot.jobs import Job, JobRunner, RunAgain, decode, encode
from bot.queue import Submitted, refused
from bot.queue.admission import Admission
from bot.sharedredis import NAMESPACE, Outage, delete_matching

logger = logging.getLogger(__name__)

QUEUE = "jobs"
RUN = "run_job"
GIVE_UP = "give_up_job"
REFUSE = "refuse_job"
# Where Dramatiq's Redis broker keeps each message of the queue until it is acknowledged: queued,
# running, or waiting for its delay.
MESSAGES = (f"{NAMESPACE}:{QUEUE}.msgs", f"{NAMESPACE}:{QUEUE}.DQ.msgs")
QUEUED_SECONDS = 86_400  # as long as Slack may repeat a delivery, and jobs keep their record
DEAD_LETTER_MS = QUEUED_SECONDS * 1000  # a job that kept failing is kept as long, not a week
MAINTENANCE_CHANCE = 50_000  # per million fetches
# The longest a consumer sleeps between fetches when its queue is empty. A delayed message waits for
# two of those sleeps (the delay queue's, then the queue's): on average it runs this late.
WORKER_TIMEOUT_MS = 50
DELAY_LATENESS = WORKER_TIMEOUT_MS / 1000
MAX_RETRIES = 3
MIN_BACKOFF_MS = 250  # then about 0.5, 1 and 2 s: a blip of Slack or Redis, not an outage
MAX_BACKOFF_MS = 5_000


def make_broker(client: redis.Redis, settings: Settings) -> RedisBroker:
    broker = RedisBroker(
        client=client,
        namespace=NAMESPACE,
        heartbeat_timeout=int(settings.worker_dead_after * 1000),
        dead_message_ttl=DEAD_LETTER_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=[
            # A run downloads, submits and polls once; it never waits out the API job.
            TimeLimit(time_limit=int((settings.detect_timeout + 60) * 1000)),
            Retries(
                max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS
            ),
        ],
    )
    broker.declare_queue(QUEUE)
    return broker


def _message(text: str) -> Message:
    return Message(
        queue_name=QUEUE,
        actor_name=RUN,
        args=(text,),
        kwargs={},
        options={"on_retry_exhausted": GIVE_UP},
    )


def _refusal(text: str, refusal: Refusal) -> Message:
    return Message(
        queue_name=QUEUE,
        actor_name=REFUSE,
        args=(text, dataclasses.asdict(refusal)),
        kwargs={},
        options={},
    )


class RedisQueue:
    """The producer side, for web and Socket Mode processes. The queue holds at most `capacity`
    messages (DETECT_QUEUE); past that, and past a share (`admission`), a job is refused, and its
    person is told by a worker: the refusal is a small message of its own, beyond the capacity but
    at most one a minute for each person."""

    def __init__(
        self,
        client: redis.Redis,
        broker: RedisBroker,
        outage: Outage,
        admission: Admission,
        capacity: int,
    ) -> None:
        self._client = client
        self._broker = broker
        self._outage = outage
        self._admission = admission
        self._capacity = capacity
        self.stopped = False

    def submit(self, job: Job, *, key: str | None = None) -> Submitted:
        queued = None
        if key is not None:
            queued = f"{NAMESPACE}:queued:{key}"
            job = dataclasses.replace(job, id=uuid.uuid5(uuid.NAMESPACE_URL, queued).hex)
        return self._outage.run(lambda: self._enqueue(job, queued))

    def _enqueue(self, job: Job, queued: str | None) -> Submitted:
        if queued is not None and self._client.exists(queued):
            return Submitted.DUPLICATE
        if self._messages() >= self._capacity:
            outcome, refusal = Submitted.BUSY, Refusal(BUSY)
        elif (limited := self._admission.admit(job)) is not None:
            outcome, refusal = Submitted.LIMITED, limited
        else:
            try:
                self._broker.enqueue(_message(encode(job)))
            except BaseException:
                self._admission.release(job)
                raise
            if queued is not None:
                self._client.set(queued, job.id, ex=QUEUED_SECONDS)
            return Submitted.ACCEPTED
        refused(job, outcome, refusal)
        if self._admission.tell(job):
            self._broker.enqueue(_refusal(encode(job), refusal))
        return outcome

    def _messages(self) -> int:
        with self._client.pipeline(transaction=False) as pipe:
            for key in MESSAGES:
                pipe.hlen(key)
            return sum(pipe.execute())

    def shutdown(self, grace: float) -> int:
        """Nothing runs here: what was submitted is safe in Redis."""
        self.stopped = True
        return 0


class RedisWorker:
    """The consumer side: `DETECT_WORKERS` threads running the jobs on the queue."""

    def __init__(self, broker: RedisBroker, runner: JobRunner, threads: int) -> None:
        self._broker = broker
        self._runner = runner
        Actor(self._run, broker=broker, actor_name=RUN, queue_name=QUEUE, priority=0, options={})
        for act, name in ((self._give_up, GIVE_UP), (self._refuse, REFUSE)):
            Actor(
                act,
                broker=broker,
                actor_name=name,
                queue_name=QUEUE,
                priority=0,
                options={"max_retries": 1},
            )
        # Only the jobs' queue: the embedded API runs its own on the same broker.
        self._worker = Worker(
            broker, queues={QUEUE}, worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS
        )

    def start(self) -> None:
        self._worker.start()

    def stop(self, grace: float) -> None:
        """Stop taking messages, let those running finish within `grace` seconds; the others
        (fetched but not started, or waiting for their delay) go back on the queue."""
        self._worker.stop(timeout=int(grace * 1000))

    def _run(self, text: str) -> None:
        try:
            self._runner.run(decode(text))
        except RunAgain as again:
            # A delayed message runs DELAY_LATENESS late on average: ask that much less, but
            # never less than half (a busy queue is not late, and a rerun costs a message).
            delay = max(again.delay - DELAY_LATENESS, again.delay / 2)
            self._broker.enqueue(_message(text), delay=max(1, round(delay * 1000)))

    def _refuse(self, text: str, refusal: dict[str, Any]) -> None:
        self._runner.refuse(decode(text), Refusal(**refusal))

    def _give_up(self, message: dict, info: dict) -> None:
        job = decode(message["args"][0])
        logger.error("gave up a %s job after %d tries", job.kind, info["retries"] + 1)
        self._runner.give_up(job)


def forget_team(client: redis.Redis, team_id: str) -> None:
    """Delete what the queue keeps of a workspace: the marks of its deliveries, and the jobs of it
    that kept failing (Dramatiq's dead letters: a sorted set of ids and a hash of messages)."""
    delete_matching(client, f"{NAMESPACE}:queued:{team_id}:*")
    dead = f"{NAMESPACE}:{QUEUE}.XQ"
    for message_id, raw in client.hscan_iter(f"{dead}.msgs"):
        if _team_of(raw) == team_id:
            client.hdel(f"{dead}.msgs", message_id)
            client.zrem(dead, message_id)


def _team_of(raw: bytes) -> str | None:
    try:
        return str(json.loads(json.loads(raw)["args"][0])["team_id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
