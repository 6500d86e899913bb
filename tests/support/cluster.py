"""Web and worker processes of the bot, started as the Procfile starts them, on one Redis.

`Cluster` runs `python -m bot run --http` (web), `python -m bot worker` and any other `python -m bot`
processes, each with its own log file, and lets a test kill (SIGKILL), stop (SIGTERM) and start
them again. `process_env` is the environment any `python -m bot` process of the tests gets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from dotenv import dotenv_values

from bot.process.web import SLACK_PATH
from tests.support.faultserver import free_port
from tests.support.paths import REPO
from tests.support.slack_signing import post_signed
from tests.support.slackbot import SIGNING_SECRET

# .env.example lists every variable the bot reads.
VARIABLES = tuple(dotenv_values(REPO / ".env.example"))
START_TIMEOUT = 30.0


def process_env(**env: str) -> dict[str, str]:
    """The environment for a `python -m bot` process: none of the bot's variables but `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), clean.get("PYTHONPATH")]))
    return {**clean, **env}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None  # a web process's base URL

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    def start(
        self, name: str, args: list[str], ready: Callable[[Process], bool], **env: str
    ) -> Process:
        """Start `python -m bot ARGS` as `name`, with `env` added to the cluster's; return once
        `ready(process)` holds (start_web and start_worker know when theirs are)."""
        log = self.directory / f"{name}.log"
        with log.open("ab") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                cwd=self.directory,  # no stray .env
                env=process_env(**self.env, **env),
                stdout=stderr,
                stderr=stderr,
            )
        process = self.processes[name] = Process(name, popen, log)
        deadline = time.monotonic() + START_TIMEOUT
        while not ready(process):
            if process.popen.poll() is not None:
                raise AssertionError(f"{name} exited: {process.logged()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready: {process.logged()}")
            time.sleep(0.02)
        return process

    def start_web(self, name: str) -> Process:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = self.start(name, ["run", "--http"], lambda _: _serving(url), PORT=str(port))
        process.url = url
        return process

    def start_worker(self, name: str) -> Process:
        return self.start(name, ["worker"], lambda p: "working on the queue" in p.logged())

    def post(self, web: str, envelope: dict[str, Any], **kw: Any) -> requests.Response:
        """Send an Events API envelope to the web process `web`, signed as Slack signs it."""
        return self.send(web, json.dumps(envelope).encode(), "application/json", **kw)

    def send(self, web: str, body: bytes, content_type: str, **kw: Any) -> requests.Response:
        url = f"{self.processes[web].url}{SLACK_PATH}"
        return post_signed(url, body, content_type, SIGNING_SECRET, **kw)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(timeout=10)

    def terminate(self, name: str, timeout: float = 30.0) -> tuple[int, str]:
        """SIGTERM, then wait: (exit code, what it logged). A process still running after
        `timeout` is left for `stop` to kill."""
        process = self.processes[name]
        process.popen.send_signal(signal.SIGTERM)
        code = process.popen.wait(timeout=timeout)
        del self.processes[name]
        return code, process.logged()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)


def _serving(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
    except requests.ConnectionError:
        return False
