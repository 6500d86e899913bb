"""The WSGI application served over HTTP: Slack's requests at POST /slack/events, GET /healthz, and
GET /, which says what to set in the Slack app next (a PaaS opens it after a deploy)."""

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
from bot.workspaces.oauth import INSTALL_PATH, REDIRECT_PATH

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
        self._many_workspaces = runtime.settings.many_workspaces

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path in ("/healthz", "/") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            problem = self._health_problem()
            if path == "/":
                host = environ.get("HTTP_HOST", "")
                text, status = next_steps(host, self._many_workspaces, problem), "200 OK"
            else:
                text = f"{problem or 'ok'}\n"
                status = "200 OK" if problem is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [text.encode()]
        return self._slack(environ, start_response)


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
