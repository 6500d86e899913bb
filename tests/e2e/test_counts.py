"""How many of each class were found, end to end: a crowded beach shared in Slack is answered with
counts first, then uploaded with its boxes and an alt text saying the same; a hosted API's answer,
which has no boxes, is not counted; and `python -m bot detect --json` counts as the reply does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk import WebClient

from bot.cli import main
from tests.e2e.test_cli import bot_process
from tests.support.cluster import VARIABLES
from tests.support.faultserver import FaultyApi, faulty_api
from tests.support.photos import IMAGES
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import CHANNEL, REPLY_TIMEOUT, hosted, idle, running_bot

if TYPE_CHECKING:
    from pathlib import Path

    from _typeshed.wsgi import WSGIEnvironment

KITE = IMAGES / "scenes" / "kite.jpg"  # a beach: 11 people and 7 kites marked by hand
CLASSES = "person, kite, dog"
# "person \u00d78 (best 97%)": a class found more than once, its count and its best score.
COUNTED = re.compile(r"(\w+) \u00d7(\d+) \(best \d+%\)")


def test_a_crowded_beach_is_answered_with_counts_then_its_boxes_and_alt_text(
    slack: SlackEmulator,
) -> None:
    with running_bot(slack, DETECT_CLASSES=CLASSES) as bot:
        event, _ = bot.share(slack.add_image(KITE.read_bytes(), "kite.jpg"))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)

    counted = {name: int(n) for name, n in COUNTED.findall(reply["text"])}
    assert counted.keys() == {"person", "kite"}, reply["text"]
    assert counted["person"] >= 5 and counted["kite"] >= 5
    assert reply["text"].endswith("· no dog found")
    # The reply went first; then one upload, described as the reply counted.
    methods = [call.method for call in slack.calls]
    assert methods.index("chat.postMessage") < methods.index("files.getUploadURLExternal")
    (upload,) = slack.uploads
    assert upload.alt_txt == (
        f"Photo with {counted['person']} people and {counted['kite']} kites, "
        "boxes drawn around each"
    )
    # Slack keeps it on the file, as its message in the thread and files.info show it.
    (shared,) = [m for m in slack.messages(CHANNEL) if m.get("files") and m.get("bot_id")]
    assert shared["thread_ts"] == event["ts"]
    assert shared["files"][0]["alt_txt"] == upload.alt_txt
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    assert client.files_info(file=upload.file_id)["file"]["alt_txt"] == upload.alt_txt


def test_a_hosted_apis_answer_without_boxes_says_nothing_of_how_many(slack: SlackEmulator) -> None:
    with (
        faulty_api() as api,
        running_bot(slack, DETECT_CLASSES=CLASSES, **hosted(api)) as bot,
    ):
        for route in ("POST /detect", "GET /detect/{id}"):
            api.add(route, _without_boxes(api), times=None)
        bot.share(slack.add_image(KITE.read_bytes(), "kite.jpg"))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)

    assert re.fullmatch(r"kite\.jpg: person \d+%, kite \d+% · no dog found", reply["text"])
    assert slack.uploads == []  # nothing to draw


def test_detect_prints_the_counts_on_the_images_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    assert main(["detect", "--classes", "person,kite,dog", str(KITE)]) == 0

    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{KITE}: person \N{MULTIPLICATION SIGN}")
    assert {name for name, _ in COUNTED.findall(line)} == {"person", "kite"}
    assert line.endswith("· no dog found")


def test_detect_json_counts_each_class_by_its_boxes(tmp_path: Path) -> None:
    done = bot_process(tmp_path, "detect", "--json", "--classes", "person,kite,dog", str(KITE))

    assert done.returncode == 0, done.stderr
    (image,) = json.loads(done.stdout)["images"]
    boxes = {o["class"]: len(o["boundingBoxes"]) for o in image["result"]["objects"]}
    assert image["counts"] == {"person": boxes["person"], "kite": boxes["kite"]}
    assert boxes["person"] >= 5 and boxes["kite"] >= 5 and boxes["dog"] == 0


def _without_boxes(api: FaultyApi) -> Any:
    """A fault that passes the request to the embedded API and takes the boxes out of its answer,
    as a hosted API gives none."""

    def strip(environ: WSGIEnvironment) -> tuple[int, list[tuple[str, str]], bytes]:
        status: list[int] = []

        def start(line: str, _headers: Iterable[tuple[str, str]], _exc: Any = None) -> Any:
            status.append(int(line.split()[0]))

        body = json.loads(b"".join(api.app(environ, start)))
        for image in body.get("imageResults", []) if isinstance(body, dict) else []:
            for obj in image.get("objects", []):
                obj.pop("boundingBoxes", None)
        return status[0], [("Content-Type", "application/json")], json.dumps(body).encode()

    return strip
