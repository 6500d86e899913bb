"""Image servers on loopback for the embedded API's `url` images: `ImageHost` serves a photo,
oversized bodies, a trickle and a 404; `Stall` accepts connections and never answers, and
`upload_beside_stalled_links` times an upload while a job's links wait on one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from bot.localapi.work import LINK_THREADS
from tests.support.localapi_client import ApiLike, bearer, blob, classes, detect, submit, wait_for
from tests.support.photos import photo
from tests.support.waiting import until

IMAGE_CAP = 300_000  # chelsea.png (240,512 bytes) fits


class ImageHost:
    """A tiny image server: the photo, oversized bodies, a trickle, and a 404. Records the path
    of every request in `seen`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.seen.append(path)
        if path == "/chelsea.png":
            body = photo("chelsea.png")
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        if path == "/big":  # declares its size
            start_response("200 OK", [("Content-Length", str(IMAGE_CAP + 1))])
            return [b"\0" * (IMAGE_CAP + 1)]
        if path == "/big-undeclared":  # no Content-Length: the cap must apply while streaming
            start_response("200 OK", [("Content-Type", "image/png")])
            return (b"\0" * 65536 for _ in range(IMAGE_CAP // 65536 + 2))
        if path == "/trickle":  # a few bytes at a time, never finishing before the deadline
            start_response("200 OK", [("Content-Length", "100000")])
            return self._trickle()
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    def _trickle(self) -> Iterator[bytes]:
        for _ in range(1000):
            yield b"\x89PNG"
            if self.release.wait(0.02):
                return


class Stall:
    """A server on 127.0.0.1 that accepts connections and never answers, until closed (then it
    closes them all, so that whoever still waits fails at once)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            with self._lock:
                self._held.append(connection)

    def close(self) -> None:
        # shutdown() first: close() alone leaves the blocked accept() listening on Linux.
        self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        with self._lock:
            for connection in self._held:
                connection.close()

    def __enter__(self) -> Stall:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def upload_beside_stalled_links(api: ApiLike, links: int = 10) -> tuple[dict, float, int, dict]:
    """Submit a job of `links` links to a stalled server and, once LINK_THREADS of them wait on
    it, a job of one blob (an upload). Returns the upload's finished job, how long it took, how
    many links were still waiting when it finished, and the links' job (failed once the server
    closed)."""
    headers = bearer(api)
    with Stall() as stall:
        body = {"images": [{"url": f"{stall.url}/{n}.png"} for n in range(links)]}
        stalled = submit(api, {**body, "classes": classes("cat")}, headers)["id"]
        assert until(lambda: stall.accepted == LINK_THREADS, timeout=10)
        started = time.monotonic()
        upload = detect(api, {"images": [blob(photo("chelsea.png"))], "classes": classes("cat")})
        took = time.monotonic() - started
        waiting = stall.accepted
    return upload, took, waiting, wait_for(api, stalled, headers)
