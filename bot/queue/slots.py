"""Work in flight, counted per person and per workspace: slots a job takes when it is queued and
gives back when it ends, in this process (`MemorySlots`) or on the shared Redis (`RedisSlots`, where
web processes take them and worker processes give them back).

A job takes `cost` slots of each of its scopes (its person's and its workspace's) at once, or none:
`take` names the first scope that has too few left. Every slot is held until a deadline (its lease):
a job lost in a crash, whose end never comes, holds its slots no longer than that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """`cost` slots of the scope `key`, which has `limit` in all."""

    key: str
    cost: int
    limit: int


class Slots(Protocol):
    def take(self, holder: str, claims: Sequence[Claim], *, now: float, lease: float) -> int | None:
        """Take every claim for `holder` until `now + lease`; or none, and return the index of the
        first claim that does not fit. `now` is a time.time(). What `holder` held already is
        replaced: a delivery taken again (Slack's retry of a job that could not be queued) is
        not counted twice."""
        ...

    def give_back(self, holder: str, keys: Sequence[str]) -> None:
        """What `holder` holds of `keys`; nothing when it holds none (any more)."""
        ...


class MemorySlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, dict[str, tuple[int, float]]] = {}  # key -> holder -> (cost, until)

    def take(self, holder: str, claims: Sequence[Claim], *, now: float, lease: float) -> int | None:
        with self._lock:
            for index, claim in enumerate(claims):
                held = self._held.setdefault(claim.key, {})
                for expired in [h for h, (_, until) in held.items() if until <= now]:
                    del held[expired]
                others = sum(cost for h, (cost, _) in held.items() if h != holder)
                if others + claim.cost > claim.limit:
                    return index
            for claim in claims:
                self._held[claim.key][holder] = (claim.cost, now + lease)
            return None

    def give_back(self, holder: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                held = self._held.get(key, {})
                held.pop(holder, None)
                if not held:
                    self._held.pop(key, None)


# Each scope is a sorted set of "holder cost" members scored by their deadline. Both scripts run
# whole or not at all, so web processes taking slots at once never overfill a scope.
_TAKE = """
local now, lease, holder = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local mine, n = holder .. ' ', #KEYS
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local held = 0
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(member, 1, #mine) ~= mine then
      held = held + tonumber(string.match(member, ' (%d+)$'))
    end
  end
  if held + tonumber(ARGV[3 + i]) > tonumber(ARGV[3 + n + i]) then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, holder .. ' ' .. ARGV[3 + i])
  redis.call('EXPIRE', key, math.ceil(lease))
end
return 0
"""
_GIVE_BACK = """
local prefix = ARGV[1] .. ' '
for _, key in ipairs(KEYS) do
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(member, 1, #prefix) == prefix then
      redis.call('ZREM', key, member)
    end
  end
end
return 0
"""


class RedisSlots:
    """Raises redis errors from `take` (the web process answers Slack 503); `give_back` logs them:
    the slots it could not give back expire with their lease."""

    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def take(self, holder: str, claims: Sequence[Claim], *, now: float, lease: float) -> int | None:
        refused = int(
            self._take(
                keys=[claim.key for claim in claims],
                args=[
                    now,
                    lease,
                    holder,
                    *(claim.cost for claim in claims),
                    *(claim.limit for claim in claims),
                ],
            )
        )
        return refused - 1 if refused else None

    def give_back(self, holder: str, keys: Sequence[str]) -> None:
        try:
            self._give_back(keys=list(keys), args=[holder])
        except redis.RedisError as exc:
            logger.warning(
                "could not give back a job's slots (%s): they expire with their lease",
                type(exc).__name__,
            )
