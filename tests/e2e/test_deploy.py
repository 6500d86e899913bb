"""The deploy path, as a PaaS takes it: a clone of the committed tree, built the way Heroku's Python
buildpack builds it, its Procfile's processes started from that build alone, answering a photo; and
app.json (the Heroku Button) and render.yaml (the Render Blueprint) saying the same as the Procfile.

The buildpack (heroku/heroku-buildpack-python, lib/package_manager.sh) wants exactly one package
manager file at the app's root; with uv.lock it wants a .python-version too, then runs
`uv sync --locked --no-default-groups` (lib/uv.sh) into the app's Python. Here that Python is a
fresh virtual environment, uv's cache is the one the test environment was installed from, and the
bytecode is not compiled ahead (the buildpack's --compile-bytecode only makes the start faster).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bot.process.web import SLACK_PATH, next_steps
from tests.support.cluster import REPO, VARIABLES
from tests.support.faultserver import free_port
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import post_signed
from tests.support.slackbot import CHANNEL, SIGNING_SECRET, shared_photo, wait_for_reply
from tests.support.waiting import until

BUILD_COMMAND = "uv sync --locked --no-default-groups"  # what the buildpack runs (lib/uv.sh)
# Package manager files the buildpack knows (lib/package_manager.sh): exactly one may be present.
PACKAGE_MANAGER_FILES = ("requirements.txt", "uv.lock", "poetry.lock", "Pipfile.lock", "Pipfile")
# Set by the platform (PORT) or by an add-on (REDIS_URL; DATABASE_URL from a PostgreSQL add-on).
PROVIDED = {"PORT", "REDIS_URL", "DATABASE_URL"}
# app.json's fields, from Heroku's schema reference (devcenter.heroku.com/articles/app-json-schema).
APP_JSON_FIELDS = {
    "name", "description", "keywords", "website", "repository", "logo", "success_url", "scripts",
    "env", "formation", "image", "addons", "buildpacks", "environments", "stack",
}  # fmt: skip
# The Blueprint fields of services and Key Value instances (render.com/docs/blueprint-spec).
BLUEPRINT_SERVICE_FIELDS = {
    "type", "name", "runtime", "plan", "previews", "buildCommand", "startCommand", "schedule",
    "preDeployCommand", "region", "repo", "branch", "autoDeployTrigger", "domains",
    "healthCheckPath", "maxShutdownDelaySeconds", "numInstances", "scaling", "buildFilter",
    "rootDir", "disk", "envVars", "ipAllowList", "maxmemoryPolicy", "previewPlan",
}  # fmt: skip
START_TIMEOUT = 60.0


def procfile(root: Path = REPO) -> dict[str, str]:
    """Process type -> command, as the Procfile gives them."""
    lines = (root / "Procfile").read_text().splitlines()
    return {
        name.strip(): command.strip()
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    }


def app_json() -> dict[str, Any]:
    return json.loads((REPO / "app.json").read_text())


def render_yaml(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load((REPO / "render.yaml").read_text() if text is None else text)


def uv() -> str:
    """The uv the test group installs beside this Python (the version uv.lock pins)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is not installed: the test group has it (uv sync --locked)"
    return found


def locked(*, groups: bool = False) -> dict[str, set[str]]:
    """Package -> the versions uv.lock pins for it (one per range of Pythons): the app's, or with
    every dependency group's."""
    which = "--all-groups" if groups else "--no-default-groups"
    exported = subprocess.run(
        [uv(), "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", which],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    pins: dict[str, set[str]] = {}
    for line in exported.stdout.splitlines():
        if "==" in line:
            name, version = line.split(";")[0].strip().split("==")
            pins.setdefault(normalized(name), set()).add(version)
    return pins


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- the files ------------------------------------------------------------------------------------


def test_app_json_runs_the_procfiles_processes_with_redis_and_names_every_variable():
    app = app_json()

    assert set(app) <= APP_JSON_FIELDS
    assert app["buildpacks"] == [{"url": "heroku/python"}]
    assert set(app["formation"]) == set(procfile())
    assert all(process["quantity"] >= 1 for process in app["formation"].values())
    assert [addon["plan"].split(":")[0] for addon in app["addons"]] == ["heroku-redis"]
    # Every variable the bot reads but those the platform and add-ons set; each said what it is.
    assert set(app["env"]) == set(VARIABLES) - PROVIDED
    assert all(entry["description"].strip() for entry in app["env"].values())
    required = {name for name, entry in app["env"].items() if entry.get("required")}
    assert required == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}
    # Heroku's Key-Value Store signs its own certificate.
    assert app["env"]["REDIS_TLS_VERIFY"]["value"] == "false"
    # The tables are created at start, under a lock: nothing has to run before new code serves.
    assert "release" not in procfile() and "scripts" not in app


def test_render_yaml_builds_locked_and_runs_the_procfiles_commands_on_a_queue_never_evicted():
    blueprint = render_yaml()
    services = {service["type"]: service for service in blueprint["services"]}

    assert set(services) == {"web", "worker", "keyvalue"}
    assert all(set(service) <= BLUEPRINT_SERVICE_FIELDS for service in services.values())
    commands = procfile()
    for kind in ("web", "worker"):
        service = services[kind]
        assert (service["runtime"], service["buildCommand"]) == ("python", BUILD_COMMAND)
        assert service["startCommand"] == commands[kind]
        redis_url = next(v for v in service["envVars"] if v.get("key") == "REDIS_URL")
        assert redis_url["fromService"] == {
            "type": "keyvalue",
            "name": services["keyvalue"]["name"],
            "property": "connectionString",
        }
        assert service["plan"] != "free"  # it sleeps, and Slack waits 3 s (README)
    assert services["web"]["healthCheckPath"] == "/healthz"
    assert services["keyvalue"]["maxmemoryPolicy"] == "noeviction"
    assert services["keyvalue"]["ipAllowList"] == []

    (group,) = blueprint["envVarGroups"]
    shared = {v["key"]: v for v in group["envVars"]}
    assert {shared["UV_VERSION"]["value"]} == locked(groups=True)["uv"]
    assert {k for k, v in shared.items() if v.get("sync") is False} == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    }
    assert all({"fromGroup": group["name"]} in services[k]["envVars"] for k in ("web", "worker"))


def test_render_yamls_commented_database_is_the_many_workspace_set_up():
    # The YAML commented out (`# key: ...`, `# - ...`), not the prose comments around it.
    text = (REPO / "render.yaml").read_text()
    many = render_yaml(re.sub(r"(?m)^(\s*)# (?=\s*(?:- |[A-Za-z]+:(?: |$)))", r"\1", text))

    (database,) = many["databases"]
    for service in many["services"][:2]:
        (url,) = [v for v in service["envVars"] if v.get("key") == "DATABASE_URL"]
        assert url["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
    # Nothing else changes.
    without = [
        {**s, "envVars": [v for v in s["envVars"] if v.get("key") != "DATABASE_URL"]}
        if "envVars" in s
        else s
        for s in many["services"]
    ]
    assert without == render_yaml()["services"]


# -- the build and the processes -----------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the committed tree, built as the buildpack builds it: the app's directory; its
    Python environment is APP/../env."""
    root = tmp_path_factory.mktemp("deploy")
    app = root / "app"
    git = shutil.which("git")
    assert git, "git is not installed"
    subprocess.run([git, "clone", "--quiet", str(REPO), str(app)], check=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(root / "env")
    done = subprocess.run(
        [uv(), *BUILD_COMMAND.split()[1:], "--no-progress"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return app


def environment(app: Path) -> Path:
    return app.parent / "env"


def test_the_clone_passes_the_buildpacks_checks(deployed: Path):
    present = [name for name in PACKAGE_MANAGER_FILES if (deployed / name).exists()]
    assert present == ["uv.lock"]
    # The buildpack stops a uv app without one; Heroku recommends the major version alone.
    version = (deployed / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version)
    python = environment(deployed) / "bin" / "python"
    built = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert built.stdout.strip() == version
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == version  # the tests run on it too


def test_the_production_install_is_the_locked_app_without_test_or_dev_tools(deployed: Path):
    python = environment(deployed) / "bin" / "python"
    listed = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m\nfor d in m.distributions(): print(d.name, d.version)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = dict(line.split() for line in listed.stdout.splitlines())
    installed = {normalized(name): version for name, version in installed.items()}
    app, everything = locked(), locked(groups=True)
    tools = set(everything) - set(app)

    assert {"pytest", "ruff", "mypy", "uv", "trustme"} <= tools
    assert set(installed) & tools == set()
    del installed["image-intelligence-slackbot"]
    assert {name: version for name, version in installed.items() if version not in app[name]} == {}
    assert {"slack-bolt", "gunicorn", "dramatiq", "ai-edge-litert"} <= set(installed)


def test_the_procfiles_web_and_worker_from_the_build_answer_a_photo(
    deployed: Path, slack: SlackEmulator, redis: RedisServer
):
    port = free_port()
    settings = {
        "PORT": str(port),
        "REDIS_URL": redis.url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    logs = deployed.parent / "logs"
    logs.mkdir(exist_ok=True)
    processes = {
        name: start(deployed, command, logs / f"{name}.log", DYNO=f"{name}.1", **settings)
        for name, command in procfile(deployed).items()
    }
    base = f"http://127.0.0.1:{port}"
    try:
        assert until(lambda: _answers(f"{base}/healthz"), START_TIMEOUT), read(logs / "web.log")
        assert until(lambda: "working on the queue" in read(logs / "worker.log"), START_TIMEOUT), (
            read(logs / "worker.log")
        )

        # The page app.json's success_url opens after a deploy says what to set in Slack next.
        landing = requests.get(f"{base}/", timeout=5)
        assert landing.status_code == 200
        assert f"https://127.0.0.1:{port}{SLACK_PATH}" in landing.text

        message, envelope = shared_photo(slack)
        body = json.dumps(envelope).encode()
        ack = post_signed(f"{base}{SLACK_PATH}", body, "application/json", SIGNING_SECRET)
        assert ack.status_code == 200
        reply = wait_for_reply(slack, message["ts"], CHANNEL)
        assert re.search(r"chelsea\.png: cat \d+%", reply.args["text"])
    finally:
        for process in processes.values():
            stop(process)
    for name in processes:
        assert "Traceback" not in read(logs / f"{name}.log")


def start(app: Path, command: str, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """`command` as a Procfile line runs: by a shell in the app's directory, with the build's
    Python first on PATH and no variable of the bot but `settings`."""
    env = {
        k: v for k, v in os.environ.items() if k not in {*VARIABLES, "PYTHONPATH", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{environment(app) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with log.open("wb") as output:
        return subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=app,
            env={**env, **settings},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the shell and what it starts, stopped together
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_page_after_a_deploy_names_what_many_workspaces_need_too():
    one = next_steps("bot-1a2b.herokuapp.com", False, None)
    many = next_steps("bot-1a2b.herokuapp.com", True, "Redis is unreachable")

    assert "https://bot-1a2b.herokuapp.com/slack/events" in one
    assert "oauth_redirect" not in one and "/invite @Image Intelligence" in one
    assert "redirect_urls: https://bot-1a2b.herokuapp.com/slack/oauth_redirect" in many
    assert "install the app at https://bot-1a2b.herokuapp.com/slack/install" in many
    assert many.endswith("/healthz): Redis is unreachable\n")
