"""`/detect` end to end: signed slash commands in, acks and Web API calls to the emulator out.

The bot uses a fault-injecting server around the embedded API as its hosted API, so each test can
read exactly what reached the API (or that nothing did).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from bot.httpserver import ServerThread
from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi, faulty_api
from tests.support.photos import photo
from tests.support.slack_emulator import BOT_USER_ID, SlackEmulator
from tests.support.slackbot import CHANNEL, USER, Bot, hosted, idle, running_bot

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ACK_LIMIT = 3.0  # seconds: Slack shows an error and retries after that
DEFAULT_CLASSES = "person, car, bicycle, dog, cat"


@pytest.fixture
def api() -> Iterator[FaultyApi]:
    # The hosted API is outside the bot's network, so it may fetch the tests' loopback photo server.
    with faulty_api(private_urls=True) as hosted_api:
        yield hosted_api


@pytest.fixture
def bot(slack: SlackEmulator, api: FaultyApi) -> Iterator[Bot]:
    with running_bot(slack, **hosted(api)) as running:
        yield running


class PhotoServer:
    """A web server on loopback that serves chelsea.png and records when each GET arrived."""

    def __init__(self) -> None:
        self.gets: list[float] = []  # time.monotonic() of each request
        self._lock = threading.Lock()
        self._server = ServerThread(self)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        with self._lock:
            self.gets.append(time.monotonic())
        body = photo("chelsea.png")
        start_response(
            "200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(body)))]
        )
        return [body]

    @property
    def url(self) -> str:
        return f"{self._server.url}/photos/chelsea.png"

    def __enter__(self) -> PhotoServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@pytest.fixture
def photos() -> Iterator[PhotoServer]:
    with PhotoServer() as server:
        yield server


def acked_ephemeral(response: requests.Response) -> dict[str, Any]:
    """The message an ack carries: Bolt answers it in the HTTP response, ephemeral by default."""
    assert response.status_code == 200
    assert response.elapsed.total_seconds() < ACK_LIMIT
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return body


def acked_quietly(response: requests.Response) -> bool:
    """Whether the ack was in time and empty: the answer comes later, through the Web API."""
    return (
        response.status_code == 200
        and response.elapsed.total_seconds() < ACK_LIMIT
        and response.content == b""
    )


def announcement_and_reply(bot: Bot, slack: SlackEmulator) -> tuple[dict, dict]:
    """The visible "<@user> asked to detect ..." message and the results in its thread."""
    first, second = slack.wait_for("chat.postMessage", 2, timeout=20)[:2]
    assert not first.args.get("thread_ts"), "the announcement is posted at the top level"
    assert first.args["channel"] == CHANNEL
    assert slack.replies(first.response["ts"], CHANNEL) == [second]
    return first.args, second.args


def web_api_calls(slack: SlackEmulator) -> list[str]:
    """The methods the bot called, leaving out the auth.test Bolt makes to authorize requests."""
    return [call.method for call in slack.calls if call.method != "auth.test"]


def blob_and_url_items(api: FaultyApi) -> list[list[str]]:
    """Per POST /detect, which kinds of image item it carried ("blob", "url")."""
    return [
        [key for image in body["images"] for key in ("blob", "url") if key in image]
        for body in api.bodies("POST /detect")
    ]


def requested_classes(api: FaultyApi) -> list[list[str]]:
    return [[c["class"] for c in body["classes"]] for body in api.bodies("POST /detect")]


# -- help and job lookups -------------------------------------------------------------------------


def test_help_is_the_ack_itself_with_the_usage_and_the_default_classes(bot: Bot):
    body = acked_ephemeral(bot.command("help"))

    assert "*Usage*" in body["text"]
    assert "`/detect job JOB_ID`" in body["text"]
    assert f"Default classes: {DEFAULT_CLASSES}." in body["text"]
    assert body["blocks"][0]["text"]["text"] == body["text"]


def test_a_job_id_shows_that_jobs_results_to_the_user_alone(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    slack.wait_for("chat.postMessage", timeout=20)
    job_id = next(r.path for r in api.requests if r.route == "GET /detect/{id}").split("/")[-1]

    assert acked_quietly(bot.command(f"job {job_id}"))
    shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args

    assert (shown["channel"], shown["user"]) == (CHANNEL, USER)
    assert shown["text"].startswith("Image 1: cat ")
    assert "no person, car, bicycle, dog found" in shown["text"]
    assert shown["blocks"][-1]["elements"][0]["text"] == f"Job `{job_id}`"
    assert api.count("POST /detect") == 1, "a lookup runs no new job"


def test_an_unknown_job_id_is_answered_ephemerally_saying_so(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    assert acked_quietly(bot.command("job 00000000-dead-beef-0000-000000000000"))
    shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args

    assert (shown["channel"], shown["user"]) == (CHANNEL, USER)
    assert shown["text"] == (
        "I found no job `00000000-dead-beef-0000-000000000000` in this workspace. Check the job id."
    )
    assert api.count("GET /detect/{id}") == 1
    assert not slack.calls_to("chat.postMessage")


def test_a_job_another_workspace_ran_is_not_found_as_if_it_did_not_exist(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    # A job of the same API account, run for another workspace (its id seen in a shared channel).
    with ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url) as client:
        theirs = client.detect([blob_image(photo("chelsea.png"))], ["cat"], feed_id="T0ELSEWHERE")

    assert acked_quietly(bot.command(f"job {theirs.id}"))
    shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args

    assert shown["text"] == (f"I found no job `{theirs.id}` in this workspace. Check the job id.")
    assert "cat" not in str(shown)


# -- bad input ------------------------------------------------------------------------------------

LONG_URL = "https://example.com/" + "a" * 493 + ".jpg"  # 517 characters
MANY_URLS = " ".join(f"https://example.com/{n}.jpg" for n in range(11))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ftp://example.com/cat.jpg", "`ftp://example.com/cat.jpg` is not an http(s) link"),
        ("<file:///etc/passwd> cat", "`file:///etc/passwd` is not an http(s) link"),
        (LONG_URL, "A link is 517 characters long; the API takes 512 at most."),
        (MANY_URLS, "That is 11 links; I can look at 10 at a time at most."),
        ("--all cat", "`--all` looks like an option, and `/detect` takes none."),
    ],
    ids=["ftp", "file", "long-url", "11-urls", "option"],
)
def test_bad_input_is_acked_with_the_problem_and_the_usage_and_reaches_no_api(
    bot: Bot, slack: SlackEmulator, api: FaultyApi, text: str, problem: str
):
    body = acked_ephemeral(bot.command(text))

    assert body["text"].startswith(f":x: {problem}")
    assert "\n*Usage*\n" in body["text"]
    assert body["blocks"][0]["text"]["text"].startswith(f":x: {problem}")

    # Something observable after it: a lookup the bot does answer.
    bot.command("job 00000000-dead-beef-0000-000000000000")
    slack.wait_for("chat.postEphemeral", timeout=10)
    idle(bot)
    assert web_api_calls(slack) == ["chat.postEphemeral"]
    assert api.count("POST /detect") == 0
    assert api.count("GET /detect/{id}") == 1


# -- no link: the latest image in the channel -----------------------------------------------------


def test_without_a_link_the_latest_image_in_the_channel_is_detected_in_a_thread(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    slack.add_message(CHANNEL, "older", user=USER, files=[slack.add_image(photo("coffee.png"))])
    slack.add_message(
        CHANNEL, "latest", user=USER, files=[slack.add_image(photo("chelsea.png"), "chelsea.png")]
    )
    for n in range(3):
        slack.add_message(CHANNEL, f"chat {n}", user=USER)

    assert acked_quietly(bot.command(""))
    announcement, reply = announcement_and_reply(bot, slack)

    assert announcement["text"] == f"<@{USER}> asked to detect {DEFAULT_CLASSES} in 1 image"
    assert reply["text"].startswith("chelsea.png: cat ")
    assert blob_and_url_items(api) == [["blob"]]


@pytest.mark.parametrize(
    ("text", "image", "classes", "found"),
    [
        ("cat", "chelsea.png", ["cat"], "cat"),
        ("coffee cup, person", "coffee.png", ["coffee cup", "person"], "coffee cup"),
    ],
)
def test_classes_in_the_text_replace_the_defaults(
    bot: Bot,
    slack: SlackEmulator,
    api: FaultyApi,
    text: str,
    image: str,
    classes: list[str],
    found: str,
):
    slack.add_message(CHANNEL, "", user=USER, files=[slack.add_image(photo(image), image)])

    bot.command(text)
    announcement, reply = announcement_and_reply(bot, slack)

    assert announcement["text"] == f"<@{USER}> asked to detect {', '.join(classes)} in 1 image"
    assert requested_classes(api) == [classes]
    assert f"Found: {found} " in reply["blocks"][0]["text"]["text"]


def test_the_latest_image_leaves_out_the_bots_uploads_and_what_people_cannot_see_there(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    latest = slack.add_message(CHANNEL, "", files=[slack.add_image(photo("chelsea.png"), "a.png")])
    # Newer: the bot's own annotated upload in its thread, an image only another workspace may
    # see (Slack Connect), one hidden by the plan's storage limit, and one in another channel.
    drawn = slack.add_image(photo("coffee.png"), "chelsea-detected.jpg", user=BOT_USER_ID)
    slack.add_message(CHANNEL, "", user=BOT_USER_ID, thread_ts=latest["ts"], files=[drawn])
    refused = slack.add_image(photo("astronaut.png"), "theirs.png", file_access="access_denied")
    hidden = slack.add_image(photo("coffee.png"), "old.png", mode="hidden_by_limit")
    slack.add_message(CHANNEL, "", user=USER, files=[refused, hidden])
    slack.add_message("C0ELSEWHERE", "", user=USER, files=[slack.add_image(photo("coffee.png"))])

    assert acked_quietly(bot.command(""))
    announcement, reply = announcement_and_reply(bot, slack)

    assert announcement["text"] == f"<@{USER}> asked to detect {DEFAULT_CLASSES} in 1 image"
    assert reply["text"].startswith("a.png: cat ")
    (listed,) = slack.calls_to("files.list")
    assert (listed.args["channel"], listed.args["types"]) == (CHANNEL, "images")
    assert not [c for c in slack.calls if c.method.startswith("conversations.")]  # no history


def test_a_channel_with_no_image_but_the_bots_gets_told_to_share_one(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    drawn = slack.add_image(photo("chelsea.png"), "chelsea-detected.jpg", user=BOT_USER_ID)
    slack.add_message(CHANNEL, "", user=BOT_USER_ID, files=[drawn])
    slack.add_message(CHANNEL, "chat", user=USER)

    bot.command("")
    shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args
    idle(bot)

    assert (shown["channel"], shown["user"]) == (CHANNEL, USER)
    assert shown["text"].startswith(":x: I found no image shared lately in this channel. Share ")
    assert "*Usage*" in shown["text"]
    assert not slack.calls_to("chat.postMessage")
    assert api.count("POST /detect") == 0


@pytest.mark.parametrize("refused", ["files.list", "chat.postMessage"])
def test_a_channel_the_bot_is_not_in_gets_an_ephemeral_saying_to_add_it(
    bot: Bot, slack: SlackEmulator, api: FaultyApi, refused: str
):
    slack.add_message(CHANNEL, "", user=USER, files=[slack.add_image(photo("chelsea.png"))])
    slack.error_next(refused, "not_in_channel")

    bot.command("")
    shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args
    idle(bot)

    assert (shown["channel"], shown["user"]) == (CHANNEL, USER)
    assert shown["text"].startswith("I can't read or post in this channel. Add me to it")
    assert api.count("POST /detect") == 0  # nowhere to answer, so nothing is detected


# -- links ----------------------------------------------------------------------------------------


def test_links_go_to_the_api_as_url_items_and_the_bot_never_fetches_them(
    bot: Bot, slack: SlackEmulator, api: FaultyApi, photos: PhotoServer
):
    bot.command(f"<{photos.url}|chelsea> cat")
    announcement, reply = announcement_and_reply(bot, slack)

    assert announcement["text"] == f"<@{USER}> asked to detect cat in 1 image"
    assert api.bodies("POST /detect")[0]["images"] == [{"url": photos.url, "customId": "0"}]
    assert reply["text"].startswith(f"{photos.url}: cat ")
    # One GET, and only once the API had the job: the API fetched it, not the bot.
    detect_received = next(r.received_at for r in api.requests if r.route == "POST /detect")
    assert len(photos.gets) == 1
    assert photos.gets[0] > detect_received


def test_the_embedded_api_refuses_a_link_to_a_private_address(
    slack: SlackEmulator, photos: PhotoServer
):
    with running_bot(slack) as bot:  # no II_CLIENT_ID: the embedded API, in the bot's process
        bot.command(photos.url)
        _, reply = announcement_and_reply(bot, slack)

    assert reply["text"] == (
        f"{photos.url} could not be downloaded: no image could be fetched from this link"
    )
    assert photos.gets == []


# -- channels -------------------------------------------------------------------------------------


def test_a_channel_outside_allowed_channels_gets_not_enabled(slack: SlackEmulator, api: FaultyApi):
    allowed = "C0ALLOWED1"
    slack.add_message(CHANNEL, "", user=USER, files=[slack.add_image(photo("chelsea.png"))])
    with running_bot(slack, ALLOWED_CHANNELS=allowed, **hosted(api)) as bot:
        body = acked_ephemeral(bot.command("cat"))
        assert body["text"] == "I am not enabled in this channel."

        bot.command("job 00000000-dead-beef-0000-000000000000", channel=allowed)
        shown = slack.wait_for("chat.postEphemeral", timeout=10)[0].args
        idle(bot)

    assert shown["channel"] == allowed
    assert web_api_calls(slack) == ["chat.postEphemeral"]
    assert api.count("POST /detect") == 0


# -- every class ----------------------------------------------------------------------------------


def test_detect_all_names_what_is_in_the_photo_best_first_and_nothing_else(
    slack: SlackEmulator, photos: PhotoServer
):
    env = {"LOCAL_API_ALLOW_PRIVATE_HOSTS": "127.0.0.1"}  # the test's photo server, on loopback
    with running_bot(slack, **env) as bot:  # the embedded API, which knows every class it has
        assert acked_quietly(bot.command(f"{photos.url} all"))
        announcement, reply = announcement_and_reply(bot, slack)

    assert announcement["text"] == f"<@{USER}> asked to detect everything I know in 1 image"
    assert reply["text"].startswith(f"{photos.url}: cat ")
    assert "no " not in reply["text"] and "not supported" not in reply["text"]
    section = reply["blocks"][0]["text"]["text"]
    assert "Not found" not in section
    found = section.split("Found: ")[1].split("\n")[0].split(", ")
    scores = [int(item.rsplit(" ", 1)[1].rstrip("%")) for item in found]
    assert found[0].startswith("cat ") and scores == sorted(scores, reverse=True)
    # "Report a mistake" offers what was found, not the classes that were not.
    options = reply["blocks"][0]["accessory"].get("options") or [reply["blocks"][0]["accessory"]]
    assert len(options) == len(found)
    assert len(photos.gets) == 1  # fetched: 127.0.0.1 is allowed


def test_detect_all_with_a_hosted_account_says_it_needs_a_class_list(bot: Bot, api: FaultyApi):
    body = acked_ephemeral(bot.command("all"))

    assert "`all` means every class of the embedded detector" in body["text"]
    assert "name the classes" in body["text"]
    assert api.total_calls() == 0


def test_help_lists_the_classes_by_group_on_the_embedded_api_only(
    slack: SlackEmulator, api: FaultyApi
):
    with running_bot(slack) as embedded:
        known = acked_ephemeral(embedded.command("help"))
    with running_bot(slack, **hosted(api)) as hosted_bot:
        hosted_help = acked_ephemeral(hosted_bot.command("help"))

    listing = known["blocks"][1]["text"]["text"]
    assert listing.startswith("*Classes I know*\n_People and animals_: person, face, ")
    assert "_Vehicles" in listing and "motorcycle" in listing and "traffic light" in listing
    assert "`/detect [IMAGE_URL ...] all`" in known["text"]
    assert len(hosted_help["blocks"]) == 1 and "Classes I know" not in hosted_help["text"]
