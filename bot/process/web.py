"""The web process: Slack's requests at POST /slack/events, GET /healthz, GET / (what to set in the
Slack app next; a PaaS opens it after a deploy) and, for many workspaces, the OAuth pages.

`SlackEdge` is the ASGI app between the internet and Bolt. No thread waits on a client: the event
loop reads each request whole, within a size limit and a deadline, and answers /healthz and /
itself; a Slack request is checked (signed, fresh, not a replay; bot/process/signed.py) before any
of it is parsed, and only then handed, complete, to Bolt on a small thread pool. So clients that
stall, trickle or send too much cost a socket each, and everyone else is still answered
(docs/decisions.md, "The edge").
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bot.config import Settings
from bot.httpserver import MAX_HEADER_BYTES, AsgiServer
from bot.process import StopSignal, freeze_startup_objects
from bot.process.runtime import Runtime, running
from bot.process.signed import SlackSignatures, is_ssl_check
from bot.sharedredis import Unavailable
from bot.workspaces.oauth import INSTALL_PATH, REDIRECT_PATH

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
WEB_THREADS = 4
SWITCH_INTERVAL = 0.001  # seconds
# Slack's largest request is well under this (docs/decisions.md, "The edge"); a larger one is
# refused with 413 before any of its body is read.
MAX_BODY_BYTES = 1_048_576
BODY_SECONDS = 5.0  # to send the body once the headers are in; then 408
STOP_HTTP_SECONDS = 5.0  # for requests in flight at SIGTERM: Slack gives up on them after 3 s

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = dict[str, str]


class Answer:
    """An HTTP response: status, body, and headers beyond Content-Length."""

    def __init__(
        self,
        status: int,
        body: str | bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = headers if headers is not None else [("content-type", TEXT)]
        if close:  # the request's body was not read: the connection cannot carry another
            self.headers.append(("connection", "close"))

    @classmethod
    def from_bolt(cls, response: BoltResponse) -> Answer:
        headers = [
            (name, value)
            for name, values in response.headers.items()
            if name.lower() != "content-length"
            for value in values
        ]
        return cls(response.status, response.body, headers)


TEXT = "text/plain; charset=utf-8"
NOT_FOUND = Answer(404, "not found\n")


class _Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class SlackEdge:
    """The ASGI app of the web process (see the module's docstring). `close()` once the server has
    stopped: it waits for the requests still on the thread pool."""

    def __init__(self, runtime: Runtime) -> None:
        self._app = runtime.app
        self._health_problem = runtime.health_problem
        self._many_workspaces = runtime.settings.many_workspaces
        self._signatures = SlackSignatures(
            runtime.settings.slack_signing_secret or "", runtime.replays
        )
        self._pool = ThreadPoolExecutor(WEB_THREADS, thread_name_prefix="web")
        oauth = self._app.oauth_flow
        self._oauth: dict[str, Callable[[BoltRequest], BoltResponse]] = (
            {INSTALL_PATH: oauth.handle_installation, REDIRECT_PATH: oauth.handle_callback}
            if oauth is not None
            else {}
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            answer = await self._answer(scope, receive)
        except _Refused as refused:
            answer = refused.answer
        if answer is None:  # the client went away
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in [
                        *answer.headers,
                        ("content-length", str(len(answer.body))),
                    ]
                ],
            }
        )
        body = b"" if scope["method"] == "HEAD" else answer.body
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> Answer | None:
        path, method = scope["path"], scope["method"]
        # h11 limits the headers that arrive in pieces; these came in one read.
        if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
            return Answer(431, "request headers too large\n", close=True)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if path in ("/healthz", "/"):
            _allow(method, "GET", "HEAD")
            loop = asyncio.get_running_loop()
            problem = await loop.run_in_executor(None, self._health_problem)
            if path == "/":
                host = headers.get("host", "")
                return Answer(200, next_steps(host, self._many_workspaces, problem))
            return Answer(200 if problem is None else 503, f"{problem or 'ok'}\n")
        if path in self._oauth:
            _allow(method, "GET")
            request = _bolt_request(b"", scope, headers)
            return await self._on_pool(self._oauth[path], request)
        if path != SLACK_PATH:
            return NOT_FOUND
        _allow(method, "POST")
        body = await self._read_body(receive, headers)
        if body is None:
            return None
        if "x-slack-signature" not in headers and is_ssl_check(headers, body):
            return Answer(200)
        refusal = self._signatures.refusal(headers, body)
        if refusal is not None:
            logger.info("refused a request with %s", refusal)
            return Answer(401, "invalid request\n")
        return await self._on_pool(self._dispatch, headers, body, scope)

    async def _read_body(self, receive: Receive, headers: Headers) -> bytes | None:
        """The whole body, or None when the client went away; 413 or 408 refuse it."""
        declared = headers.get("content-length")
        # h11 checked that it is a number.
        if declared is not None and (len(declared) > 12 or int(declared) > MAX_BODY_BYTES):
            raise _too_large()
        body = bytearray()

        async def read() -> bool:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                body.extend(message.get("body", b""))
                if len(body) > MAX_BODY_BYTES:
                    raise _too_large()
                if not message.get("more_body", False):
                    return True

        try:
            whole = await asyncio.wait_for(read(), BODY_SECONDS)
        except asyncio.TimeoutError:
            logger.info("refused a request whose body took over %g s", BODY_SECONDS)
            raise _Refused(Answer(408, "request body too slow\n", close=True)) from None
        return bytes(body) if whole else None

    async def _on_pool(self, work: Callable[..., Answer | BoltResponse], *args: Any) -> Answer:
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._pool, work, *args)
        except Unavailable:
            # Not 2xx: Slack delivers the request again later. The outage was logged.
            return Answer(503, "")
        except _Refused as refused:
            return refused.answer
        return answer if isinstance(answer, Answer) else Answer.from_bolt(answer)

    def _dispatch(self, headers: Headers, body: bytes, scope: Scope) -> BoltResponse:
        if self._signatures.replayed(headers):
            logger.info("refused a replay of a request already taken")
            raise _Refused(Answer(401, "invalid request\n"))
        response = None
        try:
            response = self._app.dispatch(_bolt_request(body, scope, headers))
        finally:
            if response is None or response.status >= 500:  # not taken: Slack may send it again
                self._signatures.failed(headers)
        return response


def _too_large() -> _Refused:
    logger.info("refused a request over %d bytes", MAX_BODY_BYTES)
    return _Refused(Answer(413, "request too large\n", close=True))


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise _Refused(Answer(405, "method not allowed\n", [("allow", ", ".join(allowed))]))


def _bolt_request(body: bytes, scope: Scope, headers: Headers) -> BoltRequest:
    """Bolt's view of the request; 400 for one whose body or query Bolt cannot parse."""
    try:
        return BoltRequest(
            body=body.decode(),
            query=scope["query_string"].decode("latin-1"),
            headers=dict(headers),
        )
    except (ValueError, RecursionError) as problem:
        logger.info("refused a request Bolt cannot read (%s)", type(problem).__name__)
        raise _Refused(Answer(400, "malformed request\n")) from None


def next_steps(host: str, many_workspaces: bool, health_problem: str | None) -> str:
    """What to set in the Slack app for the deployment at `host` (Slack takes https URLs only)."""
    lines = [
        "The Image Intelligence Slack bot is running here.",
        "",
        "Next, in your Slack app's settings (https://api.slack.com/apps), App Manifest:",
        "- the three request URLs (event_subscriptions, interactivity and the /detect "
        f"command's url): https://{host}{SLACK_PATH}",
        "- socket_mode_enabled: false",
    ]
    if many_workspaces:
        lines += [
            f"- oauth_config.redirect_urls: https://{host}{REDIRECT_PATH}",
            f"Then workspaces install the app at https://{host}{INSTALL_PATH}",
        ]
    else:
        lines.append(
            "Then invite the bot to a channel (/invite @Image Intelligence) and share a photo."
        )
    lines += ["", f"Health (https://{host}/healthz): {health_problem or 'ok'}", ""]
    return "\n".join(lines)


@contextmanager
def serving(runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Iterator[AsgiServer]:
    """The runtime's Slack app served on host:port until the context exits; then the requests in
    flight get STOP_HTTP_SECONDS to finish."""
    edge = SlackEdge(runtime)
    try:
        server = AsgiServer(edge, host, port).start()
        try:
            yield server
        finally:
            server.stop(STOP_HTTP_SECONDS)
    finally:
        edge.close()


def run_http(settings: Settings) -> None:
    """`python -m bot run --http`: serve Slack's requests on $PORT until SIGTERM, then finish the
    requests in flight, and the work queued within SHUTDOWN_GRACE."""
    stop = StopSignal()
    # A request thread waking from a Redis reply waits for the GIL up to the switch interval
    # (docs/decisions.md, "The processes").
    sys.setswitchinterval(SWITCH_INTERVAL)
    # A PaaS routes to the dyno's own interface.
    with running(settings) as runtime, serving(runtime, "0.0.0.0", settings.port):  # noqa: S104
        freeze_startup_objects()
        logger.info("serving Slack's requests on port %d", settings.port)
        stop.wait()
        logger.info("stopping: no new requests; finishing those in flight")
