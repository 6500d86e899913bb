"""Token state with an injected clock, and the single-flight cache with real threads."""

from __future__ import annotations

import threading

import pytest

from bot.imageintelligence.token import REFRESH_BUFFER, AccessToken, TokenCache
from tests.support.waiting import until

DAY_MS = 24 * 3600 * 1000
NOW_MS = 1_700_000_000_000  # the server's wall clock when it issued the token


def token_body(issued_at: int = NOW_MS, lifetime_ms: int = DAY_MS) -> dict[str, object]:
    return {
        "accessToken": "tok-SECRET-123",
        "issuedAt": issued_at,
        "expiresAt": issued_at + lifetime_ms,
        "orgName": "org",
        "appName": "app",
        "scope": "detect:create detect:read",
    }


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_buffer_is_the_getting_started_clients_30_seconds() -> None:
    assert REFRESH_BUFFER == 30.0


@pytest.mark.parametrize(
    ("before_end", "stale"), [(31.0, False), (30.5, False), (30.0, True), (29.0, True), (0, True)]
)
def test_stale_30_seconds_before_the_end_plus_or_minus_one(before_end: float, stale: bool) -> None:
    token = AccessToken.from_response(token_body(), received_at=1000.0)
    assert token.end == 1000.0 + 24 * 3600
    assert token.stale(token.end - before_end) is stale


@pytest.mark.parametrize(
    "issued_at",
    [NOW_MS, NOW_MS - 3600_000 * 24 * 365 * 10, NOW_MS + 3600_000 * 6, 0],
    ids=["in-sync", "server-10-years-behind", "server-6-hours-ahead", "epoch"],
)
def test_host_clock_skew_does_not_matter(issued_at: int) -> None:
    """Only the lifetime counts: the end is the same whatever wall-clock stamps the server used."""
    token = AccessToken.from_response(token_body(issued_at=issued_at), received_at=50.0)
    assert token.lifetime == 24 * 3600
    assert not token.stale(50.0 + 24 * 3600 - 31)
    assert token.stale(50.0 + 24 * 3600 - 29)


def test_fractional_millisecond_lifetimes_are_kept() -> None:
    token = AccessToken.from_response(token_body(lifetime_ms=90_500), received_at=0.0)
    assert token.lifetime == pytest.approx(90.5)
    assert not token.stale(60.4) and token.stale(60.5)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"accessToken": None}, "no accessToken"),
        ({"accessToken": ""}, "no accessToken"),
        ({"issuedAt": "yesterday"}, "issuedAt"),
        ({"expiresAt": True}, "expiresAt"),
        ({"expiresAt": NOW_MS - 1}, "expires before it is issued"),
    ],
)
def test_unusable_token_responses_are_rejected_without_naming_the_token(
    change: dict[str, object], reason: str
) -> None:
    body = {**token_body(), **change}
    with pytest.raises(ValueError, match=reason) as err:
        AccessToken.from_response(body, received_at=0.0)
    assert "tok-SECRET-123" not in str(err.value)


def test_token_value_is_not_in_its_repr() -> None:
    token = AccessToken.from_response(token_body(), received_at=0.0)
    assert "tok-SECRET-123" not in repr(token)
    assert "lifetime=86400" in repr(token)


def make_token(value: str, received_at: float, lifetime: float = 3600.0) -> AccessToken:
    return AccessToken(value=value, received_at=received_at, lifetime=lifetime)


def test_cache_reuses_the_token_until_stale_then_refetches() -> None:
    clock = FakeClock(0.0)
    fetched: list[AccessToken] = []

    def fetch() -> AccessToken:
        fetched.append(make_token(f"t{len(fetched)}", clock()))
        return fetched[-1]

    cache = TokenCache(fetch, clock)
    first = cache.get()
    clock.now = 3600.0 - 31
    assert cache.get() is first
    clock.now = 3600.0 - 29
    second = cache.get()
    assert second is not first and [t.value for t in fetched] == ["t0", "t1"]


def test_invalidate_drops_only_the_token_it_names() -> None:
    clock = FakeClock(0.0)
    count = 0

    def fetch() -> AccessToken:
        nonlocal count
        count += 1
        return make_token(f"t{count}", clock())

    cache = TokenCache(fetch, clock)
    old = cache.get()
    cache.invalidate(old)
    new = cache.get()
    assert (old.value, new.value) == ("t1", "t2")
    cache.invalidate(old)  # a thread that saw a 401 on the old token must not drop the new one
    assert cache.get() is new and count == 2


def waiting(cache: TokenCache) -> int:
    # Condition keeps its waiters in a list; reading it makes "all 49 are waiting" deterministic.
    return len(cache._cond._waiters)  # type: ignore[attr-defined]


def test_fifty_threads_share_one_fetch() -> None:
    clock = FakeClock()
    calls = 0
    release = threading.Event()

    def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        release.wait(5)
        return make_token("shared", clock())

    cache = TokenCache(fetch, clock)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get().value)) for _ in range(50)]
    for t in threads:
        t.start()
    assert until(lambda: waiting(cache) == 49)
    release.set()
    for t in threads:
        t.join(5)
    assert calls == 1
    assert got == ["shared"] * 50


def test_a_failed_fetch_is_raised_to_every_waiter_and_the_next_call_fetches_again() -> None:
    clock = FakeClock()
    calls = 0
    release = threading.Event()

    def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        if calls == 1:
            release.wait(5)
            raise ConnectionError("token endpoint down")
        return make_token("second", clock())

    cache = TokenCache(fetch, clock)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            outcomes.append(cache.get().value)
        except ConnectionError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    assert until(lambda: waiting(cache) == 49)
    release.set()
    for t in threads:
        t.join(5)
    assert outcomes == ["token endpoint down"] * 50
    assert calls == 1
    assert cache.get().value == "second" and calls == 2


def test_a_token_stale_on_arrival_is_still_used_once_per_call() -> None:
    """A lifetime under the buffer must not make get() loop: each call costs one fetch."""
    clock = FakeClock()
    calls = 0

    def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        return make_token(f"short{calls}", clock(), lifetime=10.0)

    cache = TokenCache(fetch, clock)
    assert [cache.get().value for _ in range(3)] == ["short1", "short2", "short3"]
