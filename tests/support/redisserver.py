"""A throwaway `redis-server` for tests: its own free port, nothing kept on disk.

The binary on PATH is used (Debian's `redis-server`; .ci/run installs it when it is missing). A test
can stop the server and start it again on the same port, or pause it (a host that hangs), to see what
the bot does while Redis is down. `tls=True` serves TLS only, with a self-signed certificate, as some
PaaS Redis add-ons do.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import trustme

from tests.support.faultserver import free_port


class RedisServer:
    def __init__(self, directory: Path, *, tls: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH: install it (Debian: redis-server)")
        self._binary = binary
        self._directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._tls = tls
        if tls:
            # A certificate no client trusts: signed by a CA made here and then thrown away.
            certificate = trustme.CA().issue_cert("127.0.0.1")
            certificate.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
            certificate.private_key_pem.write_to_path(str(directory / "key.pem"))

    @property
    def url(self) -> str:
        return self.database(0)

    def database(self, number: int) -> str:
        """The URL of one of the server's numbered databases: bots on different ones share
        nothing."""
        return f"{'rediss' if self._tls else 'redis'}://127.0.0.1:{self.port}/{number}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "not running"
        return self._process.pid

    def client(self) -> redis.Redis:
        if self._tls:
            return redis.Redis(
                host="127.0.0.1", port=self.port, ssl=True, ssl_cert_reqs=ssl.CERT_NONE
            )
        return redis.Redis(host="127.0.0.1", port=self.port)

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(
            [
                self._binary,
                *self._listen(),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        with self.client() as client:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.01)

    def _listen(self) -> list[str]:
        if not self._tls:
            return ["--port", str(self.port)]
        return [
            "--port", "0",
            "--tls-port", str(self.port),
            "--tls-cert-file", str(self._directory / "cert.pem"),
            "--tls-key-file", str(self._directory / "key.pem"),
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP while entered: the server keeps its connections and answers nothing."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop at once (SIGKILL, nothing saved): every connection breaks."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()


@contextmanager
def redis_server(*, tls: bool = False) -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="redis-") as directory:
        server = RedisServer(Path(directory), tls=tls).start()
        try:
            yield server
        finally:
            server.stop()
