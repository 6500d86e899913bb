"""A fault-injecting WSGI middleware around the real embedded API, served on loopback.

`FaultyApi` passes requests to the embedded API (bot.localapi's LocalApi) unless a fault rule says
otherwise. It counts calls per route ("POST /oauth/token", "GET /detect/{id}", ...) and lets a
test wait for them, records every request (so tests can validate each body the client sent against
the v2 spec) and every token the API issued, and can inject: canned answers (401, bursts of
500/503, 429 with Retry-After, malformed JSON), server-side delays (read timeouts), dropped
connections (closed without an answer), revoked tokens, and jobs that never finish or finish at a
set time.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from bot.httpserver import ServerThread
from bot.localapi.server import create_app
from tests.support import apispec

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/v2"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-SECRET-b5f0c1d2e3"  # distinctive, so tests can look for it in logs
CONNECTION_KEY = "faultserver.connection"  # environ key: the server's socket-backed request input


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str  # below /v2, e.g. "/detect/123"
    route: str  # e.g. "GET /detect/{id}"
    query: str
    authorization: str | None
    body: bytes
    received_at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


def route_of(method: str, path: str) -> str:
    if path.startswith("/detect/"):
        return f"{method} /detect/{{id}}"
    return f"{method} {path}"


# What a fault does with a request: an answer (status, headers, body), or None to pass it on.
Action = Callable[["WSGIEnvironment"], "tuple[int, list[tuple[str, str]], bytes] | None"]


_OBSERVED = frozenset({"POST /oauth/token", "POST /detect", "GET /detect/{id}"})


@dataclass
class _Rule:
    route: str
    action: Action
    after: int  # the rule applies from the route's call number after+1
    times: int | None  # how many calls it applies to; None = all
    used: int = 0


def _json_answer(status: int, body: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(body).encode()


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Close the client's connection without answering (the request has been read)."""
    # wsgi.input reads from the connection's socket; shutdown acts on the socket, not the fd, so
    # a duplicate fd can end the connection under the server, which then fails quietly to write.
    sock = socket.socket(fileno=os.dup(environ[CONNECTION_KEY].fileno()))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()


@dataclass
class FaultyApi:
    app: WSGIApplication
    base_url: str = ""
    calls: Counter[str] = field(default_factory=Counter)
    requests: list[Recorded] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    finish_times: dict[str, float] = field(default_factory=dict)  # job id -> monotonic time
    _rules: list[_Rule] = field(default_factory=list)
    _revoked: set[str] = field(default_factory=set)
    _held_polls: int = 0  # -1: forever
    _finish_after: Callable[[], float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)  # notified on every request, under _lock

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    # -- inspecting ---------------------------------------------------------------------------

    def count(self, route: str) -> int:
        with self._lock:
            return self.calls[route]

    def wait_for(self, route: str, count: int, timeout: float = 5.0) -> None:
        """Return once `route` has had `count` calls; AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.calls[route] >= count, timeout):
                raise AssertionError(
                    f"expected {count} call(s) to {route} within {timeout}s: {self.calls[route]}"
                )

    def bodies(self, route: str) -> list[Any]:
        """The JSON bodies of every request to `route`, in order."""
        with self._lock:
            return [r.json() for r in self.requests if r.route == route]

    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    # -- injecting ----------------------------------------------------------------------------

    def add(self, route: str, action: Action, *, after: int = 0, times: int | None = 1) -> None:
        with self._lock:
            self._rules.append(_Rule(route, action, after, times))

    def respond(
        self,
        route: str,
        status: int,
        body: bytes | Any = b"",
        headers: Iterable[tuple[str, str]] = (),
        *,
        after: int = 0,
        times: int | None = 1,
    ) -> None:
        """Answer `route` with a canned response (bytes as is, anything else as JSON)."""
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = [("Content-Type", "application/json"), *headers]
        self.add(route, lambda _env: (status, hdrs, payload), after=after, times=times)

    def delay(self, route: str, seconds: float, *, after: int = 0, times: int | None = 1) -> None:
        """Hold requests `seconds` before handing them to the API (it still does the work)."""

        def hold(_env: WSGIEnvironment) -> None:
            time.sleep(seconds)

        self.add(route, hold, after=after, times=times)

    def drop(self, route: str, *, after: int = 0, times: int | None = 1) -> None:
        """Close the connection after reading the request, without an answer or any work."""

        def drop(env: WSGIEnvironment) -> tuple[int, list[tuple[str, str]], bytes]:
            _drop_connection(env)
            return 500, [], b""  # written to a closed connection, never seen

        self.add(route, drop, after=after, times=times)

    def revoke(self, token: str) -> None:
        """Answer 401 to any request bearing `token` (as if the API had forgotten it)."""
        with self._lock:
            self._revoked.add(token)

    def hold_jobs(self, polls: int | None = None) -> None:
        """`GET /detect/{id}` answers IN_PROGRESS to the next `polls` polls (None: forever)."""
        with self._lock:
            self._held_polls = polls if polls is not None else -1

    def forget(self) -> None:
        """Clear the call counts, recorded requests and issued tokens (e.g. after setting up a
        job)."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.issued_tokens.clear()

    def finish_after(self, seconds: float | Callable[[], float]) -> None:
        """Jobs look IN_PROGRESS until `seconds` after `POST /detect` answered (a callable gives
        each job its own); `finish_times` records that moment per job (the real job must be done
        by then)."""
        self._finish_after = seconds if callable(seconds) else lambda: seconds

    # -- serving ------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        full_path = environ.get("PATH_INFO", "")
        path = full_path[len(PREFIX) :] if full_path.startswith(PREFIX) else full_path
        route = route_of(method, path)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ[CONNECTION_KEY] = environ["wsgi.input"]
        environ["wsgi.input"] = io.BytesIO(body)
        authorization = environ.get("HTTP_AUTHORIZATION")
        with self._changed:
            self.calls[route] += 1
            number = self.calls[route]
            self.requests.append(
                Recorded(
                    method,
                    path,
                    route,
                    environ.get("QUERY_STRING", ""),
                    authorization,
                    body,
                    time.monotonic(),
                )
            )
            rule = next(
                (
                    r
                    for r in self._rules
                    if r.route == route
                    and number > r.after
                    and (r.times is None or r.used < r.times)
                ),
                None,
            )
            if rule is not None:
                rule.used += 1
            revoked = authorization is not None and authorization.removeprefix("Bearer ") in (
                self._revoked
            )
            self._changed.notify_all()
        if rule is not None:
            answer = rule.action(environ)
            if answer is not None:
                return self._send(start_response, *answer)
        if revoked:
            return self._send(start_response, *_json_answer(401, {"error": "token revoked"}))
        status, headers, payload = self._forward(environ, route)
        return self._send(start_response, status, headers, payload)

    def _forward(
        self, environ: WSGIEnvironment, route: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = int(status.split()[0]), headers
            return lambda data: None

        result = self.app(environ, capture)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = captured["status"], list(captured["headers"])
        if status == 200 and route in _OBSERVED:
            payload = self._rewrite(route, json.loads(payload))
        return status, headers, payload

    def _rewrite(self, route: str, body: Any) -> bytes:
        now = time.monotonic()
        if route == "POST /oauth/token":
            with self._lock:
                self.issued_tokens.append(body["accessToken"])
        elif route == "POST /detect" and self._finish_after is not None:
            with self._lock:
                self.finish_times[body["id"]] = now + self._finish_after()
        elif route == "GET /detect/{id}":
            with self._lock:
                finish_at = self.finish_times.get(body["id"])
                held = self._held_polls != 0
                if self._held_polls > 0:
                    self._held_polls -= 1
            if held or (finish_at is not None and now < finish_at):
                body = {**body, "status": "IN_PROGRESS"}
                body["imageResults"] = [
                    {**image, "status": "IN_PROGRESS", "objects": []}
                    for image in body["imageResults"]
                ]
        return json.dumps(body).encode()

    @staticmethod
    def _send(
        start_response: StartResponse,
        status: int,
        headers: list[tuple[str, str]],
        payload: bytes,
    ) -> list[bytes]:
        kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
        kept.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {HTTPStatus(status).phrase}", kept)
        return [payload]


# The spec definition each request body must match.
REQUEST_DEFINITIONS = {
    "POST /oauth/token": "ClientCredentials",
    "POST /detect": "DetectJobRequest",
    "POST /feedback": "FeedbackRequest",
}


@contextmanager
def faulty_api(*, workers: int = 2, **create_kw: Any) -> Iterator[FaultyApi]:
    """The embedded API (real detector) behind a FaultyApi, served on a free loopback port.

    On leaving, every request body received is validated against the v2 spec.
    """
    app = create_app(CLIENT_ID, CLIENT_SECRET, workers=workers, **create_kw)
    faulty = FaultyApi(app)
    try:
        with ServerThread(faulty) as server:
            faulty.base_url = server.url + PREFIX
            yield faulty
        for route, definition in REQUEST_DEFINITIONS.items():
            for body in faulty.bodies(route):
                apispec.validate(definition, body)
    finally:
        app.close()


def first_poll_seen(api: FaultyApi) -> threading.Event:
    """Set when the bot first polls a job: the job exists and the bot is waiting on it."""
    seen = threading.Event()

    def note(_environ: WSGIEnvironment) -> None:
        seen.set()

    api.add("GET /detect/{id}", note, times=None)
    return seen


def free_port() -> int:
    """A loopback port nobody listens on (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
