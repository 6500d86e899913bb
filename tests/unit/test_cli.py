"""`python -m bot detect | check | run`, in-process through `bot.cli.main` (as a real process in
tests/e2e/test_cli.py).

Every run starts in an empty directory (no stray `.env`) with none of the bot's variables set but
those a test names. Exit codes: 0 success, 1 the API or Slack failed, 2 usage or configuration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.imageintelligence.contract import IMAGE_OK
from tests.support import apispec
from tests.support.cluster import VARIABLES
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi, free_port
from tests.support.paths import REPO
from tests.support.photos import IMAGES
from tests.support.redisserver import redis_server
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import SIGNING_SECRET

CHELSEA, ASTRONAUT, ROCKET, COFFEE = (
    str(IMAGES / name) for name in ("chelsea.png", "astronaut.png", "rocket.jpg", "coffee.png")
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    **env: str,
) -> tuple[int, str, str]:
    """Run `python -m bot ARGV` in-process with `env` set; (exit code, stdout, stderr)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse exits on bad arguments
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def slack_env(slack: SlackEmulator, **env: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        **env,
    }


def hosted_env(api: FaultyApi, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"II_API_URL": api.base_url, "II_CLIENT_ID": CLIENT_ID, "II_CLIENT_SECRET": secret}


# -- detect --------------------------------------------------------------------------------------


def test_detect_prints_a_line_per_photo_with_the_classes_found_and_their_confidence(
    monkeypatch, capsys
):
    code, out, err = cli(monkeypatch, capsys, "detect", CHELSEA, ASTRONAUT, ROCKET)

    assert code == 0, err
    chelsea, astronaut, rocket = out.strip().splitlines()
    assert chelsea.startswith(f"{CHELSEA}: ") and re.search(r"\bcat \d+%", chelsea)
    assert astronaut.startswith(f"{ASTRONAUT}: ") and re.search(r"\bperson \d+%", astronaut)
    # Nothing found in the rocket: the default classes are all named as missing, none with a score.
    assert rocket == f"{ROCKET}: no person, car, bicycle, dog, cat found"


def test_detect_looks_for_the_classes_given(monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "detect", "--classes", "coffee cup", COFFEE)

    assert code == 0, err
    assert re.fullmatch(rf"{re.escape(COFFEE)}: coffee cup \d+%", one_line(out))


def test_the_readmes_quick_start_prints_what_the_readme_shows(monkeypatch, capsys):
    # The first command block of the Quick start, and the output block after it.
    quick_start = (REPO / "README.md").read_text().split("## Quick start", 1)[1]
    command, shown = re.findall(r"```(?:sh)?\n(.*?)```", quick_start, re.DOTALL)[:2]
    # Debian's and Ubuntu's python3 install nothing outside a virtual environment (PEP 668).
    venv, install, run = command.strip().split(" && ")
    assert (venv, install) == ("python3 -m venv .venv", ".venv/bin/pip install .")
    program, argv = run.split(" -m bot ")
    assert program == ".venv/bin/python"
    monkeypatch.chdir(REPO)  # where the command runs: the clone

    code, out, err = cli(monkeypatch, capsys, *argv.split())

    assert code == 0, err
    # The classes in the same order; each confidence within a point (another CPU may round off).
    assert len(out.splitlines()) == len(shown.splitlines())
    for printed, promised in zip(out.splitlines(), shown.splitlines(), strict=True):
        pattern = re.sub(r"\d+%", r"(\\d+)%", re.escape(promised))
        matched = re.fullmatch(pattern, printed)
        assert matched, (printed, promised)
        for got, said in zip(matched.groups(), re.findall(r"(\d+)%", promised), strict=True):
            assert abs(int(got) - int(said)) <= 1, (printed, promised)


def test_detect_all_with_a_hosted_account_is_a_usage_error(monkeypatch, capsys, api):
    code, _, err = cli(
        monkeypatch, capsys, "detect", "--classes", "all", CHELSEA, **hosted_env(api)
    )

    assert code == 2
    assert "`all` means every class of the embedded detector" in one_line(err)
    assert api.total_calls() == 0


def test_detect_json_names_each_image_with_the_apis_result_for_it(monkeypatch, capsys):
    code, out, err = cli(
        monkeypatch, capsys, "detect", "--json", "--verify", "auto", CHELSEA, "missing.png"
    )

    assert code == 1, err  # one image could not be read
    printed = json.loads(out)
    job = printed["job"]
    apispec.validate("DetectJobResponse", job)
    assert job["status"] == IMAGE_OK
    (result,) = job["imageResults"]
    assert printed["images"] == [
        {"image": CHELSEA, "result": result},
        {"image": "missing.png", "error": "no such file"},
    ]
    cat = next(o for o in result["objects"] if o["class"] == "cat")
    assert cat["verdict"] is True and cat["confidence"] > 0.5


def test_detect_json_with_no_image_to_send_has_no_job(monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, "detect", "--json", "missing.png")

    assert code == 1
    assert json.loads(out) == {
        "images": [{"image": "missing.png", "error": "no such file"}],
        "job": None,
    }


def test_detect_hands_urls_to_the_api_and_reports_each_image_on_its_line(monkeypatch, capsys, api):
    url = "http://127.0.0.1:9/cat.png"  # the API refuses local addresses

    code, out, err = cli(monkeypatch, capsys, "detect", url, CHELSEA, **hosted_env(api))

    assert code == 1, err  # the link could not be read
    assert out.splitlines()[0] == (
        f"{url} could not be downloaded: it points at a private or local address"
    )
    assert re.search(r"\bcat \d+%", out.splitlines()[1])
    (body,) = api.bodies("POST /detect")
    assert body["images"][0] == {"url": url, "customId": "0"}


def test_detect_goes_on_past_images_it_cannot_read_and_exits_1(monkeypatch, capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo\n")
    (tmp_path / "photos").mkdir()
    long_url = "https://example.com/" + "a" * 500
    argv = ["missing.png", "photos", CHELSEA, "notes.txt", "ftp://example.com/cat.png", long_url]

    code, out, err = cli(monkeypatch, capsys, "detect", *argv)

    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[:2] + lines[3:] == [
        "missing.png: skipped (no such file)",
        "photos: skipped (a directory, not an image)",
        "notes.txt: skipped (not an image)",
        "ftp://example.com/cat.png: skipped (only http(s) URLs and files are supported)",
        f"{long_url[:149]}…: skipped (URLs may have 512 characters at most)",
    ]
    assert re.fullmatch(
        rf"{re.escape(CHELSEA)}: cat \d+% · no person, car, bicycle, dog found", lines[2]
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["detect", *[CHELSEA] * 65], "65 images given; at most 64"),
        (["detect", "--colour", CHELSEA], "unrecognized arguments: --colour"),
        (["detect", "--verify", "sometimes", CHELSEA], "invalid choice: 'SOMETIMES'"),
        (["detect", "--classes", " , ", CHELSEA], "--classes: give at least one class"),
        (["detect"], "the following arguments are required: IMAGE"),
    ],
    ids=["65-images", "unknown-option", "verify", "classes", "no-image"],
)
def test_detect_usage_errors_exit_2_with_one_line(monkeypatch, capsys, argv, expected):
    code, out, err = cli(monkeypatch, capsys, *argv)

    assert code == 2
    assert out == ""
    assert expected in one_line(err)


def test_a_bad_variable_exits_2_naming_it(monkeypatch, capsys):
    code, _, err = cli(monkeypatch, capsys, "detect", CHELSEA, DETECT_TIMEOUT="abc")

    assert code == 2
    assert one_line(err) == "configuration error: DETECT_TIMEOUT: must be a number, not 'abc'"


def test_an_unavailable_api_exits_1_with_one_line(monkeypatch, capsys, api):
    api.respond("POST /detect", 503, {"error": "overloaded"}, [("Retry-After", "0")], times=None)

    code, out, err = cli(monkeypatch, capsys, "detect", CHELSEA, **hosted_env(api))

    assert code == 1
    assert out == ""
    assert one_line(err) == (
        "Image Intelligence API unavailable (HTTP 503) after 3 tries. Try again later. "
        "No results for 1 image."
    )
    assert api.count("POST /detect") == 3

    # The images it could not read still get their line; the one line covers those it sent.
    code, out, err = cli(monkeypatch, capsys, "detect", "missing.png", CHELSEA, COFFEE)

    assert code == 1
    assert out == "missing.png: skipped (no such file)\n"
    assert one_line(err).endswith("No results for 2 images.")


def test_a_refused_secret_exits_1_with_one_line_that_keeps_it_secret(monkeypatch, capsys, api):
    wrong = "wrong-SECRET-7c1d9e"

    code, out, err = cli(monkeypatch, capsys, "detect", CHELSEA, **hosted_env(api, wrong))

    assert code == 1
    assert "credentials were refused" in one_line(err)
    assert wrong not in out + err
    assert api.count("POST /detect") == 0


# -- check ---------------------------------------------------------------------------------------


def test_check_reports_every_item_ok(monkeypatch, capsys, slack):
    code, out, err = cli(monkeypatch, capsys, "check", **slack_env(slack))

    assert code == 0, out + err
    assert out.splitlines() == [
        "ok   Image Intelligence API at the embedded API: credentials accepted",
        "ok   Queue: in this process's memory (no REDIS_URL): run a single process",
        "ok   Slack: signed in as @imagebot in workspace Emulated Workspace",
        "ok   HTTP: SLACK_SIGNING_SECRET is set",
    ]
    assert slack.calls_to("auth.test")[0].headers["Authorization"] == f"Bearer {slack.bot_token}"
    assert_no_secrets(out + err, slack)


def test_check_opens_a_socket_mode_connection_with_the_app_token(monkeypatch, capsys, slack):
    env = slack_env(slack, SLACK_APP_TOKEN=slack.app_token)
    del env["SLACK_SIGNING_SECRET"]  # not needed for Socket Mode

    code, out, err = cli(monkeypatch, capsys, "check", **env)

    assert code == 0, out + err
    assert out.splitlines()[-1] == "ok   Socket Mode: SLACK_APP_TOKEN can open a connection"
    opened = slack.calls_to("apps.connections.open")
    assert opened[0].headers["Authorization"] == f"Bearer {slack.app_token}"
    assert_no_secrets(out + err, slack)


def test_check_fails_on_tokens_slack_refuses(monkeypatch, capsys, slack):
    wrong_bot, wrong_app = "xoxb-wrong-9f8e7d", "xapp-wrong-6c5b4a"
    env = slack_env(slack, SLACK_BOT_TOKEN=wrong_bot, SLACK_APP_TOKEN=wrong_app)

    code, out, err = cli(monkeypatch, capsys, "check", **env)

    assert code == 1
    assert out.splitlines()[2:] == [
        "FAIL SLACK_BOT_TOKEN: Slack refused it (invalid_auth)",
        "FAIL SLACK_APP_TOKEN: Slack refused it (invalid_auth)",
    ]
    assert wrong_bot not in out + err and wrong_app not in out + err


def test_check_names_what_is_missing_and_where_to_get_it(monkeypatch, capsys, slack):
    env = slack_env(slack)
    del env["SLACK_SIGNING_SECRET"], env["SLACK_BOT_TOKEN"]

    code, out, _ = cli(monkeypatch, capsys, "check", **env)

    assert code == 1
    api_line, _, bot_token, signing_secret = out.splitlines()
    assert api_line.startswith("ok   Image Intelligence API")
    assert bot_token.startswith("FAIL SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token")
    assert signing_secret.startswith("FAIL SLACK_SIGNING_SECRET is not set: copy the Signing")
    assert "https://api.slack.com/apps" in signing_secret
    assert slack.calls == []  # nothing to ask Slack without a token


def test_check_fails_when_the_api_refuses_the_credentials(monkeypatch, capsys, slack, api):
    wrong = "wrong-SECRET-7c1d9e"
    env = {**slack_env(slack), **hosted_env(api, wrong)}

    code, out, err = cli(monkeypatch, capsys, "check", **env)

    assert code == 1
    assert out.splitlines()[0].startswith(f"FAIL Image Intelligence API at {api.base_url}: ")
    assert out.splitlines()[2:] == [
        "ok   Slack: signed in as @imagebot in workspace Emulated Workspace",
        "ok   HTTP: SLACK_SIGNING_SECRET is set",
    ]
    assert wrong not in out + err


def test_check_reports_whether_redis_answers_without_showing_its_password(
    monkeypatch, capsys, slack, redis
):
    code, out, _ = cli(monkeypatch, capsys, "check", **slack_env(slack, REDIS_URL=redis.url))
    assert code == 0
    assert out.splitlines()[1] == (
        f"ok   Redis at redis://127.0.0.1:{redis.port}/0: reachable; "
        "web and worker processes share its queue"
    )

    nobody = f"redis://:not-the-password-5e4d@127.0.0.1:{free_port()}/0"
    code, out, err = cli(monkeypatch, capsys, "check", **slack_env(slack, REDIS_URL=nobody))
    assert code == 1
    assert out.splitlines()[1].startswith(
        f"FAIL Redis at redis://127.0.0.1:{nobody.rsplit(':', 1)[1]}: unreachable ("
    )
    assert "not-the-password" not in out + err


def test_check_reaches_a_redis_with_a_self_signed_certificate_as_the_readme_says(
    monkeypatch, capsys, slack
):
    with redis_server(tls=True) as redis:
        tls = f"rediss://127.0.0.1:{redis.port}/0"
        code, out, _ = cli(monkeypatch, capsys, "check", **slack_env(slack, REDIS_URL=tls))
        assert code == 1  # the certificate is checked, and no CA signed this one
        assert out.splitlines()[1] == f"FAIL Redis at {tls}: unreachable (ConnectionError)"

        unchecked = f"{tls}?ssl_cert_reqs=none"
        code, out, _ = cli(monkeypatch, capsys, "check", **slack_env(slack, REDIS_URL=unchecked))
        assert code == 0, out
        assert out.splitlines()[1].startswith(f"ok   Redis at {tls}: reachable")

        # As on Heroku, whose add-on sets REDIS_URL (and may change it): the URL as given.
        env = slack_env(slack, REDIS_URL=tls, REDIS_TLS_VERIFY="false")
        code, out, _ = cli(monkeypatch, capsys, "check", **env)
        assert code == 0, out
        assert out.splitlines()[1].startswith(f"ok   Redis at {tls}: reachable")


def test_check_says_when_slack_cannot_be_reached(monkeypatch, capsys, slack):
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    code, out, err = cli(monkeypatch, capsys, "check", **slack_env(slack, SLACK_API_URL=nowhere))

    assert code == 1
    assert out.splitlines()[2] == (
        f"FAIL Slack at {nowhere} cannot be reached (ConnectionRefusedError)"
    )
    assert "unexpected error" not in err


def test_check_counts_the_installed_workspaces_in_the_database(
    monkeypatch, capsys, slack, database
):
    env = {
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": database,
    }
    code, out, _ = cli(monkeypatch, capsys, "check", **env)
    assert code == 0, out
    assert out.splitlines()[2:] == [
        "ok   Slack: installed in 0 workspace(s), kept in the database",
        "ok   HTTP: SLACK_SIGNING_SECRET is set",
    ]

    unreachable = database.rsplit("/", 1)[0].rsplit(":", 1)[0] + f":{free_port()}/nowhere"
    code, out, _ = cli(monkeypatch, capsys, "check", **{**env, "DATABASE_URL": unreachable})
    assert code == 1
    assert out.splitlines()[2].startswith("FAIL DATABASE_URL: the database cannot be reached (")


def test_check_says_which_values_are_still_env_examples_placeholders(monkeypatch, capsys, tmp_path):
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text())

    code, out, _ = cli(monkeypatch, capsys, "check")

    assert code == 1
    bot_token, signing_secret = out.splitlines()[2:]
    assert bot_token.startswith(
        "FAIL SLACK_BOT_TOKEN is still .env.example's placeholder: copy the Bot User OAuth Token"
    )
    assert signing_secret.startswith(
        "FAIL SLACK_SIGNING_SECRET is still .env.example's placeholder: copy the Signing Secret"
    )


def assert_no_secrets(text: str, slack: SlackEmulator) -> None:
    for secret in (slack.bot_token, slack.app_token, SIGNING_SECRET, CLIENT_SECRET):
        assert secret not in text


# -- run -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "unset", "expected"),
    [
        (["run"], "SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token"),
        (["run", "--http"], "SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET is not set: copy the"),
        ([], "SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET is not set: copy the"),
        (["run", "--socket-mode"], "SLACK_APP_TOKEN", "SLACK_APP_TOKEN is not set: create an"),
    ],
    ids=["bot-token", "signing-secret", "default-http", "app-token"],
)
def test_run_with_missing_configuration_exits_2_naming_it(
    monkeypatch, capsys, slack, argv, unset, expected
):
    env = slack_env(slack)
    env.pop(unset, None)

    code, out, err = cli(monkeypatch, capsys, *argv, **env)

    assert code == 2
    assert out == ""
    line = one_line(err)
    assert line.startswith(f"configuration error: {expected}")
    assert "https://api.slack.com/apps" in line
    assert slack.calls == []


def test_many_workspaces_without_a_database_exit_2_saying_what_to_set(monkeypatch, capsys):
    env = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "x", "SLACK_SIGNING_SECRET": "y"}

    code, out, err = cli(monkeypatch, capsys, "run", "--http", **env)

    assert code == 2 and out == ""
    assert one_line(err).startswith("configuration error: DATABASE_URL is not set: with SLACK_")


def test_run_with_a_refused_bot_token_exits_2_before_starting(monkeypatch, capsys, slack):
    wrong = "xoxb-wrong-9f8e7d"

    code, out, err = cli(monkeypatch, capsys, "run", **slack_env(slack, SLACK_BOT_TOKEN=wrong))

    assert code == 2
    assert one_line(err) == (
        "configuration error: SLACK_BOT_TOKEN: Slack refused it (invalid_auth)"
    )
    assert [call.method for call in slack.calls] == ["auth.test"]
    assert wrong not in out + err


def test_run_when_slack_cannot_be_reached_says_so_once(monkeypatch, capsys, caplog, slack):
    nowhere = f"http://127.0.0.1:{free_port()}/api/"

    code, out, err = cli(monkeypatch, capsys, "run", **slack_env(slack, SLACK_API_URL=nowhere))
    assert out == ""

    assert code == 2
    assert one_line(err) == (
        f"configuration error: Slack at {nowhere} cannot be reached (ConnectionRefusedError)"
    )
    # slack_sdk logged an ERROR line for each of its three tries (and INFO lines between them).
    assert [r.getMessage() for r in caplog.records if r.name.startswith("slack_sdk")] == []


def test_run_over_socket_mode_with_an_app_token_slack_refuses_exits_2_naming_it(
    monkeypatch, capsys, slack
):
    wrong = "xapp-wrong-6c5b4a"
    env = slack_env(slack, SLACK_APP_TOKEN=wrong)

    code, out, err = cli(monkeypatch, capsys, "run", "--socket-mode", **env)

    assert code == 2
    assert one_line(err) == "configuration error: SLACK_APP_TOKEN: Slack refused it (invalid_auth)"
    assert [call.method for call in slack.calls] == ["auth.test", "apps.connections.open"]
    assert wrong not in out + err


# -- worker --------------------------------------------------------------------------------------


def test_a_worker_without_redis_exits_2_saying_what_to_set(monkeypatch, capsys, slack):
    code, out, err = cli(monkeypatch, capsys, "worker", **slack_env(slack))

    assert code == 2
    assert out == ""
    assert one_line(err).startswith("configuration error: REDIS_URL is not set: a worker runs")
    assert slack.calls == []


def test_a_worker_with_a_refused_bot_token_exits_2(monkeypatch, capsys, slack, redis):
    env = slack_env(slack, SLACK_BOT_TOKEN="xoxb-wrong-9f8e7d", REDIS_URL=redis.url)
    del env["SLACK_SIGNING_SECRET"]  # a worker answers no HTTP request

    code, _, err = cli(monkeypatch, capsys, "worker", **env)

    assert code == 2
    assert one_line(err) == "configuration error: SLACK_BOT_TOKEN: Slack refused it (invalid_auth)"
