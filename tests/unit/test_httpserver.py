"""bot.httpserver: the in-process ServerThread, and gunicorn in a child process, on real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.httpserver import ServerThread
from tests.support.paths import REPO


def echo_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_serves_on_a_free_loopback_port_and_returns_itself_from_start() -> None:
    server = ServerThread(echo_app)
    assert server.start() is server
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        response = requests.post(server.url + "/some/path", timeout=5)
        assert (response.status_code, response.text) == (200, "POST /some/path")
    finally:
        server.stop()


def test_handles_requests_concurrently() -> None:
    # The first request blocks until the second one has been served: a single-threaded server
    # would deadlock here (and the first request's read timeout would fail the test).
    second_served = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/first":
            served = second_served.wait(timeout=5)
            body = b"saw second" if served else b"alone"
        else:
            second_served.set()
            body = b"second"
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    with ServerThread(app) as server:
        results: list[str] = []
        first = threading.Thread(
            target=lambda: results.append(requests.get(server.url + "/first", timeout=5).text)
        )
        first.start()
        assert requests.get(server.url + "/second", timeout=5).text == "second"
        first.join(timeout=5)
        assert results == ["saw second"]


def test_stop_closes_the_port_so_it_can_be_bound_again() -> None:
    with ServerThread(echo_app) as server:
        port = server.port
        assert requests.get(server.url, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    with ServerThread(echo_app, port=port) as again:
        assert requests.get(again.url + "/x", timeout=5).text == "GET /x"


def test_port_before_start_is_an_error_and_stop_twice_is_harmless() -> None:
    server = ServerThread(echo_app)
    with pytest.raises(RuntimeError):
        _ = server.port
    server.start()
    server.stop()
    server.stop()


GUNICORN_CHILD = """
import os
import sys
from contextlib import contextmanager
from bot.httpserver import run_gunicorn

MASTER = os.getpid()

def app(environ, start_response):
    body = b"hello from gunicorn " + environ["wsgi.multithread"].__repr__().encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]

@contextmanager
def open_app():
    print("opened in the worker:", os.getpid() != MASTER, flush=True)
    yield app
    print("closed in the worker:", os.getpid() != MASTER, flush=True)

run_gunicorn(open_app, bind="fd://" + sys.argv[1], threads=2, graceful_timeout=2)
print("run_gunicorn returned", flush=True)
"""


def test_run_gunicorn_serves_until_sigterm_then_returns(tmp_path: Path) -> None:
    # The listening socket is made here and handed to the child as an fd: no port race, and
    # the first request simply waits in the backlog until the worker has booted.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("XDG_RUNTIME_DIR", None)
    child = subprocess.Popen(
        [sys.executable, "-c", GUNICORN_CHILD, str(listener.fileno())],
        pass_fds=[listener.fileno()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listener.close()
    try:
        # Connection: close, or the idle keep-alive connection holds the worker's graceful exit
        # until gunicorn's keepalive (2 s) expires.
        response = requests.get(
            f"http://127.0.0.1:{port}/", headers={"Connection": "close"}, timeout=10
        )
        assert (response.status_code, response.text) == (200, "hello from gunicorn True")
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, stderr
    assert stdout.splitlines() == [
        "opened in the worker: True",
        "closed in the worker: True",
        "run_gunicorn returned",
    ]
    # No control socket was left in $HOME (gunicorn >= 25.1 makes one unless told not to).
    assert not (tmp_path / ".gunicorn").exists()
