"""Access token state: a value with a clock (like google-auth's credentials); a single-flight cache.

A token's end is counted on the local monotonic clock from when it was received, using only its
lifetime (`expiresAt - issuedAt`): both stamps come from the server's clock, so a host clock that
is minutes off changes nothing. It is stale REFRESH_BUFFER seconds before that end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

REFRESH_BUFFER = 30.0  # seconds; the getting-started client's AUTH_TOKEN_EXPIRE_BUFFER


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    received_at: float  # the monotonic clock's reading when the token arrived, seconds
    lifetime: float  # seconds

    @property
    def end(self) -> float:
        return self.received_at + self.lifetime

    def stale(self, now: float) -> bool:
        return now >= self.end - REFRESH_BUFFER

    @classmethod
    def from_response(cls, body: Any, received_at: float) -> AccessToken:
        """Build from an AccessTokenResponse; ValueError (never naming the token) if unusable."""
        if not isinstance(body, Mapping):
            raise ValueError("token response is not an object")
        value = body.get("accessToken")
        if not isinstance(value, str) or not value:
            raise ValueError("token response has no accessToken")
        lifetime = (_millis(body, "expiresAt") - _millis(body, "issuedAt")) / 1000.0
        if lifetime <= 0:
            raise ValueError("token response expires before it is issued")
        return cls(value=value, received_at=received_at, lifetime=lifetime)


def _millis(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"token response has no numeric {key}")
    return float(value)


class _Flight:
    """One fetch in progress; everyone who waited for it gets its token or its error."""

    __slots__ = ("done", "error", "token")

    def __init__(self) -> None:
        self.done = False
        self.token: AccessToken | None = None
        self.error: BaseException | None = None


class TokenCache:
    """Hands out the cached token until it is stale; refreshes with one fetch at a time.

    Every thread that finds the token missing or stale while a fetch is running waits for that
    fetch and shares its outcome: its token, or its exception (raised in each waiter). A failed
    fetch is not remembered, so the next call fetches again. A token handed out by a fetch is
    used even if it is already stale by the clock (a lifetime under REFRESH_BUFFER), so such a
    token costs one fetch per call, not a loop.
    """

    def __init__(self, fetch: Callable[[], AccessToken], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cond = threading.Condition()
        self._token: AccessToken | None = None
        self._flight: _Flight | None = None

    def get(self) -> AccessToken:
        with self._cond:
            token = self._token
            if token is not None and not token.stale(self._clock()):
                return token
            running = self._flight
            if running is not None:
                self._cond.wait_for(lambda: running.done)
                if running.error is not None:
                    raise running.error
                assert running.token is not None
                return running.token
            flight = self._flight = _Flight()
        try:
            token = self._fetch()
        except BaseException as exc:
            with self._cond:
                flight.error, flight.done, self._flight = exc, True, None
                self._cond.notify_all()
            raise
        with self._cond:
            self._token = flight.token = token
            flight.done, self._flight = True, None
            self._cond.notify_all()
        return token

    def invalidate(self, token: AccessToken) -> None:
        """Drop `token` (the API refused it), unless another thread has already replaced it."""
        with self._cond:
            if self._token is token:
                self._token = None
