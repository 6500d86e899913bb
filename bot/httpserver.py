"""Serving HTTP: WSGI apps on a quiet threaded server in a background thread (`ServerThread`: the
embedded API the bot starts, and tests) or under gunicorn in the foreground (`run_gunicorn`:
`python -m bot api`); ASGI apps on uvicorn in a background thread (`AsgiServer`: the web process,
which must stay up whatever its clients do).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import socketserver
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

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


# A client has this long, from connecting or from the end of its last response, to finish sending
# the headers of its next request; then the connection is closed. Slack sends them at once.
HEADER_SECONDS = 5.0
# The most a client's request line and headers may take (h11 answers 400 past it).
MAX_HEADER_BYTES = 16_384


class _HeaderDeadline(H11Protocol):
    """uvicorn's h11 connection, closed when a request's headers do not arrive in time: uvicorn
    waits for them forever, so slow ("slowloris") clients would pile up until the process runs
    out of sockets. A new request is a new `cycle`; the same one at the deadline means none came."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self.loop.call_later(HEADER_SECONDS, self._headers_due, self.cycle)

    def _headers_due(self, cycle: object) -> None:
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


class AsgiServer:
    """Serve an ASGI app on host:port (0: a free port) from a thread running uvicorn's event loop.
    `stop(grace)` stops accepting, closes idle connections, and waits up to `grace` seconds for the
    requests in flight before cutting them off.

    No access log, no lifespan, no WebSocket: uvicorn's own records (a malformed request, a
    start-up failure) go to the root logger like the rest.
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._sock = socket.create_server((host, port), backlog=1024)
        self._host = host
        self._config = uvicorn.Config(
            app,
            http=_HeaderDeadline,
            loop="asyncio",
            ws="none",
            lifespan="off",
            interface="asgi3",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_keep_alive=math.ceil(HEADER_SECONDS),
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> AsgiServer:
        """Serve; requests are taken once this returns (the socket is already listening)."""
        if self._server is not None:
            raise RuntimeError("server already started")
        server = self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(
            target=server.run, args=([self._sock],), name=f"asgi-{self.port}", daemon=True
        )
        self._thread.start()
        while not server.started and self._thread.is_alive():
            self._thread.join(0.005)
        if not server.started:
            raise RuntimeError("the HTTP server did not start (see the log)")
        return self

    def stop(self, grace: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.config.timeout_graceful_shutdown = max(1, math.ceil(grace))
        server.should_exit = True
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
