"""The WSGI application served over HTTP: Slack's requests at POST /slack/events, and GET /healthz."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings
from bot.httpserver import run_gunicorn
from bot.process import freeze_startup_objects
from bot.process.runtime import Runtime, running

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

SLACK_PATH = "/slack/events"
WEB_THREADS = 4
SWITCH_INTERVAL = 0.001  # seconds


class SlackWebApp:
    """Events, slash commands and interactivity share one request URL, as the manifest says.
    GET /healthz answers "ok", or 503 naming what keeps the process from taking work."""

    def __init__(self, runtime: Runtime) -> None:
        self._slack = SlackRequestHandler(runtime.app, path=SLACK_PATH)
        self._health_problem = runtime.health_problem

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            problem = self._health_problem()
            status = "200 OK" if problem is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [f"{problem or 'ok'}\n".encode()]
        return self._slack(environ, start_response)


def run_http(settings: Settings) -> None:
    """`python -m bot run --http`: serve Slack's requests under gunicorn on $PORT until SIGTERM."""
    run_gunicorn(
        lambda: _web_app(settings),
        bind=f"0.0.0.0:{settings.port}",  # a PaaS routes to the dyno's own interface
        # A request only checks, claims and queues (docs/decisions.md, "The processes").
        threads=WEB_THREADS,
        # gunicorn waits this long for the worker, which first waits SHUTDOWN_GRACE for the work.
        graceful_timeout=settings.shutdown_grace + 5,
    )


@contextmanager
def _web_app(settings: Settings) -> Iterator[SlackWebApp]:
    # A request thread waking from a Redis reply waits for the GIL up to the switch interval
    # (docs/decisions.md, "The processes").
    sys.setswitchinterval(SWITCH_INTERVAL)
    with running(settings) as runtime:
        freeze_startup_objects()
        yield SlackWebApp(runtime)
