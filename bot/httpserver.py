"""Serving WSGI apps: a quiet threaded server in a background thread, or gunicorn in the foreground.

`ServerThread` is for in-process use (the embedded API the bot starts, and tests); `run_gunicorn` is
for running a long-lived server from the command line.
"""

from __future__ import annotations

import math
import os
import socketserver
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: callers log what matters to them."""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections in any burst (seen at 32 clients).
    request_queue_size = 128

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up with socket.getfqdn(), a reverse DNS query that
        # can take seconds on a badly configured machine; the WSGI environ only needs a name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()


class ServerThread:
    """Serve a WSGI app on host:port (0: a free port) from a daemon thread, a thread per request."""

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        """Bind and start serving; the socket is listening when this returns."""
        if self._server is not None:
            raise RuntimeError("server already started")
        server = _ThreadingWSGIServer((self._host, self._requested_port), _QuietHandler)
        server.set_app(self._app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"wsgi-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting and close the listening socket; requests in flight may still finish."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_gunicorn(
    open_app: Callable[[], AbstractContextManager[WSGIApplication]],
    *,
    bind: str,
    threads: int,
    graceful_timeout: float = 30,
) -> None:
    """Serve the app that `open_app()` yields under gunicorn (1 worker, gthread) until SIGTERM/SIGINT.

    `open_app()` is entered in the forked worker, so the threads the app starts live there, and it
    is exited in the worker as it stops, after gunicorn's graceful wait for requests in flight: the
    place for the app's own graceful shutdown. Must run in the main thread (gunicorn installs
    signal handlers). `bind` is anything gunicorn takes: "127.0.0.1:8080", "unix:/path", "fd://3".
    One worker because the app keeps its state (tokens, jobs) in memory; `timeout=0` because
    detection jobs run on the app's own threads, not in the request.
    """
    from gunicorn.app.base import BaseApplication

    opened = ExitStack()
    settings: dict[str, Any] = {
        "bind": [bind],
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 0,
        "graceful_timeout": math.ceil(graceful_timeout),  # gunicorn takes whole seconds only
        "worker_exit": lambda _arbiter, _worker: opened.close(),
    }

    class _Application(BaseApplication):
        def load_config(self) -> None:
            for name, value in settings.items():
                self.cfg.set(name, value)
            # gunicorn >= 25.1 opens a control socket at a fixed path in $HOME by default, so two
            # servers would fight over it; this server is managed by signals only.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self) -> WSGIApplication:
            return opened.enter_context(open_app())

    master_pid = os.getpid()
    try:
        _Application().run()
    except SystemExit as exc:
        # The arbiter ends with sys.exit(0) on a normal shutdown: a return for our caller. The
        # forked worker exits the same way, and must really exit, not run the caller's code.
        if exc.code not in (0, None) or os.getpid() != master_pid:
            raise
