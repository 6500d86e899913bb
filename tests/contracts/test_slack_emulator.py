"""The Slack emulator and the signed-request builders behave like Slack, checked with Slack's own
SDKs: slack_sdk's WebClient and SocketModeClient, and Bolt's request verification and routing."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from PIL import Image
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support import slack_signing
from tests.support.photos import IMAGES, photo
from tests.support.slack_emulator import (
    AUTHORIZE_PATH,
    BOT_USER_ID,
    CONTRACTS,
    PAYLOADS,
    SlackEmulator,
    load_payload,
)

SHAPES = PAYLOADS / "java-slack-sdk-shapes" / "api"
SECRET = "test-signing-secret-not-real"


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def unknown_keys(value: Any, shape: Any, path: str = "") -> list[str]:
    """Keys of ``value`` that Slack's responses never carry (per the java-slack-sdk key supersets,
    where an empty object, like a view's ``state``, is a map whose keys are the app's own)."""
    if isinstance(value, dict) and isinstance(shape, dict) and shape:
        found = []
        for key, item in value.items():
            if key == "blocks":  # the app's own, echoed back (java-slack-sdk logs none in views)
                continue
            if key not in shape:
                found.append(path + key)
            else:
                found += unknown_keys(item, shape[key], f"{path}{key}.")
        return found
    if isinstance(value, list) and isinstance(shape, list) and shape:
        return [k for item in value for k in unknown_keys(item, shape[0], f"{path}[].")]
    return []


def shape(method: str) -> dict[str, Any]:
    return json.loads((SHAPES / f"{method}.json").read_text())


# --------------------------------------------------------------------------- tokens and arguments


def test_token_is_checked_like_slack(slack: SlackEmulator) -> None:
    url = slack.api_url + "auth.test"
    assert requests.post(url, timeout=5).json() == {"ok": False, "error": "not_authed"}
    wrong = requests.post(url, headers={"Authorization": "Bearer xoxb-wrong"}, timeout=5)
    assert wrong.status_code == 200
    assert wrong.json() == {"ok": False, "error": "invalid_auth"}
    app_token = {"Authorization": f"Bearer {slack.app_token}"}
    answer = requests.post(url, headers=app_token, timeout=5).json()
    assert answer == {"ok": False, "error": "not_allowed_token_type"}
    as_form_field = requests.post(url, data={"token": slack.bot_token}, timeout=5).json()
    assert as_form_field["ok"] is True
    # Slack takes no token from a JSON body.
    in_json = requests.post(url, json={"token": slack.bot_token}, timeout=5).json()
    assert in_json["error"] == "not_authed"


def test_auth_test_answers_with_slack_keys(client: WebClient, slack: SlackEmulator) -> None:
    answer = client.auth_test().data
    assert isinstance(answer, dict)
    assert answer["user_id"] == BOT_USER_ID and answer["bot_id"] == slack.bot_id
    assert unknown_keys(answer, shape("auth.test")) == []


def test_required_arguments_come_from_the_method_specs(
    client: WebClient, slack: SlackEmulator
) -> None:
    spec = json.loads((CONTRACTS / "specs/methods/reactions.add.json").read_text())
    assert set(spec["args"]["required"]) == {"token", "name", "timestamp", "channel"}
    with pytest.raises(SlackApiError) as missing:
        client.api_call("reactions.add", json={"name": "eyes", "channel": "C1"})
    assert missing.value.response["error"] == "invalid_arguments"
    messages = missing.value.response["response_metadata"]["messages"]
    assert messages == ["[ERROR] missing required field: timestamp"]
    with pytest.raises(SlackApiError) as history:
        client.api_call("conversations.history", params={})
    assert history.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]
    assert slack.calls_to("reactions.add")[-1].args == {"name": "eyes", "channel": "C1"}


def test_json_bodies_only_where_slack_reads_them(client: WebClient, slack: SlackEmulator) -> None:
    slack.add_message("CJSON", "hello")
    posted = client.api_call("chat.postMessage", json={"channel": "CJSON", "text": "hi"})
    assert posted["message"]["text"] == "hi"
    # conversations.history does not read JSON bodies: the channel is missing.
    with pytest.raises(SlackApiError) as ignored:
        client.api_call("conversations.history", json={"channel": "CJSON"})
    assert ignored.value.response["error"] == "invalid_arguments"
    form = client.conversations_history(channel="CJSON")
    assert [m["text"] for m in form["messages"]] == ["hi", "hello"]
    bad = requests.post(
        slack.api_url + "chat.postMessage",
        data=b"{not json",
        headers={"Authorization": f"Bearer {slack.bot_token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.json() == {"ok": False, "error": "invalid_json"}


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client.api_call("chat.teleport", json={"channel": "C1"})
    assert unknown.value.response["error"] == "unknown_method"


# --------------------------------------------------------------------------- messages and reactions


def test_chat_methods_answer_with_slack_shapes(client: WebClient, slack: SlackEmulator) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*found*"}}]
    parent = slack.add_message("CCHAT", "a photo", user="U111")
    posted = client.chat_postMessage(
        channel="CCHAT", text="found", blocks=blocks, thread_ts=parent["ts"]
    ).data
    assert isinstance(posted, dict)
    assert posted["channel"] == "CCHAT" and posted["ts"] == posted["message"]["ts"]
    assert posted["message"]["thread_ts"] == parent["ts"]
    assert posted["message"]["parent_user_id"] == "U111"
    assert posted["message"]["blocks"] == blocks
    assert unknown_keys(posted, shape("chat.postMessage")) == []

    ephemeral = client.chat_postEphemeral(channel="CCHAT", user="U111", text="only you").data
    assert set(ephemeral) == {"ok", "message_ts"}
    assert unknown_keys(ephemeral, shape("chat.postEphemeral")) == []

    updated = client.chat_update(channel="CCHAT", ts=posted["ts"], text="done").data
    assert isinstance(updated, dict)
    assert updated["message"]["text"] == "done" and "blocks" not in updated["message"]
    assert unknown_keys(updated, shape("chat.update")) == []
    with pytest.raises(SlackApiError) as gone:
        client.chat_update(channel="CCHAT", ts="1.000000", text="x")
    assert gone.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as empty:
        client.api_call("chat.postMessage", json={"channel": "CCHAT"})
    assert empty.value.response["error"] == "no_text"


def test_reactions_like_slack(client: WebClient, slack: SlackEmulator) -> None:
    client.reactions_add(channel="CR", timestamp="1.000001", name="eyes")
    with pytest.raises(SlackApiError) as twice:
        client.reactions_add(channel="CR", timestamp="1.000001", name="eyes")
    assert twice.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as colons:
        client.reactions_add(channel="CR", timestamp="1.000001", name=":warning:")
    assert colons.value.response["error"] == "invalid_name"
    client.reactions_add(channel="CR", timestamp="1.000001", name="white_check_mark")
    client.reactions_remove(channel="CR", timestamp="1.000001", name="eyes")
    assert slack.reactions("CR", "1.000001") == ["white_check_mark"]
    with pytest.raises(SlackApiError) as absent:
        client.reactions_remove(channel="CR", timestamp="1.000001", name="eyes")
    assert absent.value.response["error"] == "no_reaction"
    added = client.reactions_add(channel="CR", timestamp="2.0", name="x").data
    assert added == {"ok": True}


def test_history_is_newest_first_and_honours_limit(client: WebClient, slack: SlackEmulator) -> None:
    for n in range(5):
        slack.add_message("CHIST", f"m{n}", ts=f"1700000000.00000{n}")
    slack.add_message("CHIST", "a reply", ts="1700000001.000000", thread_ts="1700000000.000001")
    first = client.conversations_history(channel="CHIST", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    spec = json.loads((CONTRACTS / "specs/methods/conversations.history.json").read_text())
    assert set(spec["output"]["required"]) <= set(first.data)
    rest = client.conversations_history(
        channel="CHIST", limit=10, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    assert rest["has_more"] is False
    parent = rest["messages"][1]
    assert parent["reply_count"] == 1 and parent["latest_reply"] == "1700000001.000000"

    thread = client.conversations_replies(channel="CHIST", ts="1700000001.000000")
    assert [m["text"] for m in thread["messages"]] == ["m1", "a reply"]
    assert unknown_keys(thread.data, shape("conversations.replies")) == []
    with pytest.raises(SlackApiError) as missing:
        client.conversations_replies(channel="CHIST", ts="1.0")
    assert missing.value.response["error"] == "thread_not_found"

    # A bot reply under a message the test only sent as an event: the thread is the replies.
    reply = client.chat_postMessage(channel="CHIST", text="found", thread_ts="1600000000.000001")
    assert "parent_user_id" not in reply["message"]
    only_replies = client.conversations_replies(channel="CHIST", ts="1600000000.000001")
    assert [m["text"] for m in only_replies["messages"]] == ["found"]
    assert [m["text"] for m in slack.messages("CHIST")][-2:] == ["a reply", "found"]


def test_wait_for_wakes_on_a_call_from_another_thread(
    client: WebClient, slack: SlackEmulator
) -> None:
    before = len(slack.calls_to("chat.postEphemeral"))
    timer = threading.Timer(
        0.05, client.chat_postEphemeral, kwargs={"channel": "C", "user": "U", "text": "x"}
    )
    timer.start()
    calls = slack.wait_for("chat.postEphemeral", count=before + 1, timeout=5)
    assert calls[-1].args["text"] == "x"
    assert calls[-1].headers["Authorization"] == f"Bearer {slack.bot_token}"
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"chat\.delete"):
        slack.wait_for("chat.delete", timeout=0.05)
    assert time.monotonic() - started < 1


def test_replies_are_the_posts_in_a_thread_and_wait_until_wakes_on_each_call(
    client: WebClient, slack: SlackEmulator
) -> None:
    parent = slack.add_message("CREPLY", "a photo")["ts"]
    slack.fail_next("chat.postMessage", status=429)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="CREPLY", text="limited", thread_ts=parent)
    timer = threading.Timer(
        0.05,
        client.chat_postMessage,
        kwargs={"channel": "CREPLY", "text": "found", "thread_ts": parent},
    )
    timer.start()
    assert slack.wait_until(lambda: bool(slack.replies(parent, status=200)), timeout=5)
    client.chat_postMessage(channel="CELSEWHERE", text="elsewhere", thread_ts=parent)
    client.chat_postMessage(channel="CREPLY", text="top level")

    limited, found, elsewhere = slack.replies(parent)
    assert [c.args["text"] for c in (limited, found, elsewhere)] == [
        "limited",
        "found",
        "elsewhere",
    ]
    assert slack.replies(parent, "CREPLY") == [limited, found]
    assert slack.replies(parent, "CREPLY", status=200) == [found]
    assert limited.status == 429
    started = time.monotonic()
    assert not slack.wait_until(lambda: False, timeout=0.05)
    assert time.monotonic() - started < 1


# --------------------------------------------------------------------------- faults


def test_rate_limit_is_a_429_with_retry_after(client: WebClient, slack: SlackEmulator) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"


def test_slack_sdk_retry_handlers_get_through_injected_faults(
    slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    server_errors = ServerErrorRetryHandler(
        max_retry_count=3, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(), server_errors],
    )
    before = len(slack.calls_to("chat.postMessage"))
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    slack.fail_next("chat.postMessage", status=503)
    slack.fail_next("chat.postMessage", status=500)
    assert retrying.chat_postMessage(channel="C", text="x")["ok"] is True
    statuses = [c.status for c in slack.calls_to("chat.postMessage")[before:]]
    assert statuses == [429, 503, 500, 200]
    assert 7 <= sleeps[0] < 8  # slack_sdk read our Retry-After


def test_error_next(client: WebClient, slack: SlackEmulator) -> None:
    slack.error_next("files.info", "file_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as failed:
            client.files_info(file="F1")
        assert failed.value.response.data == {"ok": False, "error": "file_not_found"}


def test_drop_next_hangs_up_and_slack_sdk_retries_the_connection(slack: SlackEmulator) -> None:
    bare = WebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
    before = len(slack.calls_to("auth.test"))
    slack.drop_next("auth.test")
    with pytest.raises(ConnectionError):  # http.client.RemoteDisconnected
        bare.auth_test()
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0))
        ],
    )
    slack.drop_next("auth.test")
    assert retrying.auth_test()["ok"] is True
    assert [c.status for c in slack.calls_to("auth.test")[before:]] == [0, 0, 200]


# --------------------------------------------------------------------------- files


def test_files_are_served_only_with_the_token(slack: SlackEmulator) -> None:
    data = photo("rocket.jpg")
    file = slack.add_image(data, "rocket.jpg")
    template = load_payload("bolt_message_file_share_event.json")["event"]["files"][0]
    assert {k for k in template if not k.startswith("thumb_")} <= set(file)
    assert unknown_keys(file, shape("files.info")["file"]) == []
    assert file["mimetype"] == "image/jpeg" and file["filetype"] == "jpg"
    assert file["size"] == len(data)
    auth = {"Authorization": f"Bearer {slack.bot_token}"}

    got = requests.get(file["url_private"], headers=auth, timeout=5)
    assert got.content == data and got.headers["Content-Type"] == "image/jpeg"
    download = requests.get(file["url_private_download"], headers=auth, timeout=5)
    assert download.content == data
    assert download.headers["Content-Disposition"] == 'attachment; filename="rocket.jpg"'
    for headers in ({}, {"Authorization": "Bearer xoxb-someone-else"}):
        login = requests.get(file["url_private"], headers=headers, timeout=5)
        assert login.status_code == 200
        assert login.headers["Content-Type"].startswith("text/html")
        assert b"Sign in" in login.content and data[:64] not in login.content
    assert slack.file_requests[-1].authorization == "Bearer xoxb-someone-else"


def test_thumbnails_are_really_resized(slack: SlackEmulator) -> None:
    original = Image.open(IMAGES / "astronaut.png")
    file = slack.add_image(photo("astronaut.png"), "astronaut.png")
    assert (file["original_w"], file["original_h"]) == original.size
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    assert "thumb_480" in file and "thumb_720" not in file  # 512 px: no thumbnail above it
    scaled = requests.get(file["thumb_480"], headers=auth, timeout=5)
    assert scaled.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(scaled.content)).size == (file["thumb_480_w"], file["thumb_480_h"])
    crop = requests.get(file["thumb_80"], headers=auth, timeout=5)
    assert Image.open(io.BytesIO(crop.content)).size == (80, 80)
    assert "thumb_80_w" not in file


def test_file_variants_for_tests(client: WebClient, slack: SlackEmulator) -> None:
    stub = slack.add_image(photo(), "chelsea.png", stub=True)
    assert stub == {"id": stub["id"], "file_access": "check_file_info"}
    resolved = client.files_info(file=stub["id"]).data
    assert isinstance(resolved, dict)
    assert resolved["file"]["mimetype"] == "image/png"
    assert unknown_keys(resolved, shape("files.info")) == []

    scanning = slack.add_image(photo(), "chelsea.png", scanning=True)
    assert "mimetype" not in scanning and "url_private" in scanning
    hidden = slack.add_image(photo(), "chelsea.png", mode="hidden_by_limit")
    assert hidden == {"id": hidden["id"], "mode": "hidden_by_limit"}
    tombstone = slack.add_image(photo(), "chelsea.png", mode="tombstone")
    with pytest.raises(SlackApiError) as deleted:
        client.files_info(file=tombstone["id"])
    assert deleted.value.response["error"] == "file_deleted"
    pdf = slack.add_image(b"%PDF-1.4 not an image", "notes.pdf")
    assert pdf["mimetype"] == "application/pdf" and "thumb_360" not in pdf
    assert slack.add_image(photo(), "big.png", size=50_000_000)["size"] == 50_000_000


def test_redirects_lead_where_asked(slack: SlackEmulator) -> None:
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    offhost = slack.add_image(photo(), "chelsea.png", redirect="offhost")
    hop = requests.get(offhost["url_private"], headers=auth, allow_redirects=False, timeout=5)
    assert hop.status_code == 302
    assert hop.headers["Location"].startswith(slack.offhost_url + "/offhost/files-pri/")
    cdn = requests.get(hop.headers["Location"], timeout=5)
    assert cdn.content == photo() and slack.file_requests[-1].host.startswith("localhost:")

    same = slack.add_image(photo(), "chelsea.png", redirect="same_host")
    hop = requests.get(same["url_private"], headers=auth, allow_redirects=False, timeout=5)
    assert hop.status_code == 302 and hop.headers["Location"].startswith("/files-pri/")
    again = requests.get(slack.base_url + hop.headers["Location"], timeout=5)
    assert again.headers["Content-Type"].startswith("text/html")  # the token is needed again


def test_files_upload_v2_end_to_end(client: WebClient, slack: SlackEmulator) -> None:
    parent = slack.add_message("CUP", "look")
    data = photo("coffee.png")
    answer = client.files_upload_v2(
        content=data,
        filename="coffee-annotated.png",
        title="coffee, annotated",
        channel="CUP",
        thread_ts=parent["ts"],
    )
    upload = slack.uploads[-1]
    assert upload.content == data and upload.title == "coffee, annotated"
    assert upload.channel_id == "CUP" and upload.thread_ts == parent["ts"]
    assert answer["file"]["id"] == upload.file_id
    completed = slack.calls_to("files.completeUploadExternal")[-1].response
    assert unknown_keys(completed, shape("files.completeUploadExternal")) == []
    url_answer = slack.calls_to("files.getUploadURLExternal")[-1].response
    assert unknown_keys(url_answer, shape("files.getUploadURLExternal")) == []
    thread = client.conversations_replies(channel="CUP", ts=parent["ts"])["messages"]
    assert thread[-1]["files"][0]["id"] == upload.file_id
    info = client.files_info(file=upload.file_id)["file"]
    got = requests.get(
        info["url_private"], headers={"Authorization": f"Bearer {slack.bot_token}"}, timeout=5
    )
    assert got.content == data
    with pytest.raises(SlackApiError) as never_uploaded:
        client.files_completeUploadExternal(files=[{"id": "F999", "title": "x"}])
    assert never_uploaded.value.response["error"] == "file_not_found"


def test_interleaved_uploads_complete_independently(
    client: WebClient, slack: SlackEmulator
) -> None:
    # Two bots uploading at once: completing one upload must not forget the other's.
    first = client.files_getUploadURLExternal(filename="a.png", length=3)
    second = client.files_getUploadURLExternal(filename="b.png", length=3)
    for answer in (first, second):
        assert requests.post(answer["upload_url"], data=b"abc", timeout=5).status_code == 200
    client.files_completeUploadExternal(files=[{"id": first["file_id"]}])
    client.files_completeUploadExternal(files=[{"id": second["file_id"]}])
    assert [u.file_id for u in slack.uploads[-2:]] == [first["file_id"], second["file_id"]]


# --------------------------------------------------------------------------- Socket Mode


def test_socket_mode_with_bolt_and_the_builtin_client() -> None:
    with SlackEmulator() as slack:
        app = App(client=WebClient(token=slack.bot_token, base_url=slack.api_url))
        seen: list[dict[str, Any]] = []
        handled = threading.Event()

        @app.event("message")
        def on_message(event: dict[str, Any]) -> None:
            seen.append(event)
            handled.set()

        @app.command("/hello-socket-mode")
        def on_command(ack: Any) -> None:
            ack("Thanks!")

        handler = SocketModeHandler(app, slack.app_token)
        frames: list[str] = []
        handler.client.on_message_listeners.append(frames.append)
        try:
            handler.connect()
            opened = slack.calls_to("apps.connections.open")[0]
            assert opened.headers["Authorization"] == f"Bearer {slack.app_token}"
            assert unknown_keys(opened.response, shape("apps.connections.open")) == []
            command = slack.send_envelope(load_payload("socket_mode_slash_commands_envelope.json"))
            assert command == load_payload("socket_mode_ack_with_payload.json")
            event = load_payload("socket_mode_events_api_message_envelope.json")
            assert slack.send_envelope(event) == {"envelope_id": event["envelope_id"]}
            assert handled.wait(5)  # Bolt acks events first, then runs the listener
            assert seen[0]["text"] == event["payload"]["event"]["text"]
            hello = json.loads(frames[0])
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert slack.socket_connections == 1 and len(slack.acks) == 2
        finally:
            slack.stop()  # closing our side first lets the client stop at once
            handler.close()


def test_socket_mode_needs_the_app_token_and_a_fresh_ticket(
    client: WebClient, slack: SlackEmulator
) -> None:
    with pytest.raises(SlackApiError) as bot_token:
        client.apps_connections_open(app_token=slack.bot_token)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    url = WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)["url"]
    with connect(url) as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "hello"
    with pytest.raises(InvalidStatus) as reused:
        connect(url)
    assert reused.value.response.status_code == 401


# --------------------------------------------------------------------------- signed requests


def test_sign_matches_slacks_documented_example() -> None:
    vector = load_payload("signing_test_vector.json")
    headers = slack_signing.sign(
        vector["signing_secret"],
        vector["raw_body"].encode(),
        int(vector["X-Slack-Request-Timestamp"]),
    )
    assert headers == {
        "X-Slack-Signature": vector["X-Slack-Signature"],
        "X-Slack-Request-Timestamp": vector["X-Slack-Request-Timestamp"],
    }


Received = list[tuple[str, dict[str, Any], dict[str, Any]]]  # (listener, body, request headers)


@pytest.fixture(scope="module")
def bolt(slack: SlackEmulator) -> Iterator[tuple[str, Received]]:
    """A Bolt app on Bolt's WSGI adapter (its URL), recording what each listener received."""
    app = App(
        client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # listeners have run when the response arrives
    )
    received: Received = []

    @app.event({"type": "message", "subtype": "file_share"})
    def on_upload(body: dict[str, Any], request: BoltRequest) -> None:
        received.append(("file_share", body, request.headers))

    @app.command("/detect")
    def on_detect(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("command", body, request.headers))

    @app.action("report")
    def on_report(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("action", body, request.headers))

    @app.shortcut("detect_objects")
    def on_shortcut(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("shortcut", body, request.headers))

    for event in ("app_uninstalled", "tokens_revoked", "app_home_opened"):

        @app.event(event)
        def on_lifecycle(body: dict[str, Any], request: BoltRequest) -> None:
            received.append((body["event"]["type"], body, request.headers))

    @app.action("edit_settings")
    def on_edit(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("home_action", body, request.headers))

    @app.view("settings")
    def on_submit(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack(response_action="errors", errors={"classes": "Unknown class"})
        received.append(("view_submission", body, request.headers))

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), server_class=WSGIServer, handler_class=Quiet
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events", received
    server.shutdown()
    server.server_close()


def test_signed_requests_reach_bolt_listeners(
    slack: SlackEmulator, bolt: tuple[str, Received]
) -> None:
    url, received = bolt
    received.clear()
    file = slack.add_image(photo(), "chelsea.png")
    envelope = slack_signing.file_share_event(
        [file], channel="C9", ts="1700000000.000100", user="U111", thread_ts="1699999999.000001"
    )
    posted = slack_signing.post_signed(
        url, json.dumps(envelope).encode(), "application/json", SECRET
    )
    assert posted.status_code == 200
    command = slack_signing.slash_command_body(
        "person <https://e.com/a.jpg>", channel="C9", user="U111"
    )
    assert slack_signing.post_signed(url, command, "application/x-www-form-urlencoded", SECRET).ok
    message = {"type": "message", "ts": "1700000000.000100", "text": "", "files": [file]}
    action = slack_signing.block_actions_payload(
        [{"action_id": "report", "block_id": "b", "type": "button", "value": "F1:person"}],
        channel="C9",
        user="U111",
        message=message,
    )
    shortcut = slack_signing.message_shortcut_payload(message, "C9")
    for payload in (action, shortcut):
        body = slack_signing.interactive_body(payload)
        assert slack_signing.post_signed(url, body, "application/x-www-form-urlencoded", SECRET).ok

    kinds = {kind: body for kind, body, _ in received}
    event = kinds["file_share"]["event"]
    assert event["files"][0]["id"] == file["id"] and event["thread_ts"] == "1699999999.000001"
    assert event["subtype"] == "file_share" and event["channel"] == "C9"
    assert kinds["file_share"]["authorizations"][0]["user_id"] == BOT_USER_ID
    assert kinds["command"]["text"] == "person <https://e.com/a.jpg>"
    assert kinds["command"]["command"] == "/detect" and kinds["command"]["channel_id"] == "C9"
    assert kinds["action"]["actions"][0]["value"] == "F1:person"
    assert kinds["action"]["container"]["message_ts"] == message["ts"]
    assert kinds["shortcut"]["message"]["files"][0]["id"] == file["id"]


def test_bad_signatures_and_stale_timestamps_get_401(bolt: tuple[str, Received]) -> None:
    url, received = bolt
    received.clear()
    body = json.dumps(
        slack_signing.file_share_event([], channel="C9", ts="1700000000.000200", user="U111")
    ).encode()
    wrong = slack_signing.post_signed(url, body, "application/json", "not-the-secret")
    stale = slack_signing.post_signed(
        url, body, "application/json", SECRET, timestamp=int(time.time()) - 6 * 60
    )
    assert (wrong.status_code, stale.status_code) == (401, 401)
    assert received == []


def test_retries_carry_slacks_headers_and_event_id(bolt: tuple[str, Received]) -> None:
    url, received = bolt
    received.clear()
    envelope = slack_signing.file_share_event(
        [], channel="C9", ts="1700000000.000300", user="U111", event_id="Ev0RETRY"
    )
    body = json.dumps(envelope).encode()
    for retry_num in (None, 1):
        response = slack_signing.post_signed(
            url, body, "application/json", SECRET, retry_num=retry_num
        )
        assert response.status_code == 200
    (_, first, plain), (_, again, retried) = received
    assert first["event_id"] == again["event_id"] == "Ev0RETRY"
    assert "x-slack-retry-num" not in plain
    assert retried["x-slack-retry-num"] == ["1"]
    assert retried["x-slack-retry-reason"] == ["http_timeout"]


def test_socket_envelopes_wrap_the_same_payloads() -> None:
    fields = slack_signing.slash_command_fields("help", channel="C9", user="U111")
    envelope = slack_signing.socket_envelope("slash_commands", fields)
    assert envelope["accepts_response_payload"] is True and envelope["payload"]["text"] == "help"
    event = slack_signing.socket_envelope(
        "events_api",
        slack_signing.file_share_event([], channel="C9", ts="1.0", user="U1"),
        retry_attempt=1,
        retry_reason="timeout",
    )
    assert (event["retry_attempt"], event["retry_reason"]) == (1, "timeout")
    assert event["accepts_response_payload"] is False
    assert set(event) == set(load_payload("socket_mode_events_api_message_envelope.json"))


# --------------------------------------------------------------------------- several workspaces


def bot_client(slack: SlackEmulator, token: str | None) -> WebClient:
    return WebClient(token=token, base_url=slack.api_url)


def test_each_workspace_answers_for_its_own_token(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T2220", name="Second Workspace")
    assert other.bot_token and other.bot_token.startswith("xoxb-test-")
    assert (other.bot_user_id, other.bot_id) != (slack.bot_user_id, slack.bot_id)
    mine = bot_client(slack, other.bot_token).auth_test().data
    assert isinstance(mine, dict)
    assert mine["team_id"] == "T2220" and mine["team"] == "Second Workspace"
    assert (mine["user_id"], mine["bot_id"]) == (other.bot_user_id, other.bot_id)
    assert mine["url"] == other.url and unknown_keys(mine, shape("auth.test")) == []
    assert slack.calls_to("auth.test")[-1].team == "T2220"
    default = bot_client(slack, slack.bot_token).auth_test()
    assert (default["team_id"], default["team"]) == (slack.team_id, "Emulated Workspace")
    assert slack.calls_to("auth.test")[-1].token == slack.bot_token


def test_a_token_is_refused_on_another_workspaces_channels(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T2221")
    slack.add_channel("C2221", team="T2221")
    parent = slack.add_message("C2221", "their photo")
    assert parent["team"] == "T2221"
    theirs, ours = bot_client(slack, other.bot_token), bot_client(slack, slack.bot_token)
    posted = theirs.chat_postMessage(channel="C2221", text="found", thread_ts=parent["ts"])
    assert posted["message"]["team"] == "T2221"
    assert posted["message"]["bot_id"] == other.bot_id
    refused: list[tuple[str, Any]] = [
        ("chat.postMessage", lambda c, ch: c.chat_postMessage(channel=ch, text="x")),
        ("chat.postEphemeral", lambda c, ch: c.chat_postEphemeral(channel=ch, user="U1", text="x")),
        ("chat.update", lambda c, ch: c.chat_update(channel=ch, ts=posted["ts"], text="x")),
        ("reactions.add", lambda c, ch: c.reactions_add(channel=ch, timestamp="1.0", name="eyes")),
        ("reactions.remove", lambda c, ch: c.reactions_remove(channel=ch, timestamp="1.0", name="x")),
        ("conversations.history", lambda c, ch: c.conversations_history(channel=ch)),
        ("conversations.replies", lambda c, ch: c.conversations_replies(channel=ch, ts=parent["ts"])),
        ("files.completeUploadExternal", lambda c, ch: c.files_completeUploadExternal(
            files=[{"id": "F1"}], channel_id=ch)),
    ]  # fmt: skip
    for method, call in refused:
        for client, channel in ((ours, "C2221"), (theirs, "C111")):
            with pytest.raises(SlackApiError) as elsewhere:
                call(client, channel)
            assert elsewhere.value.response["error"] == "channel_not_found", method
    assert [m["text"] for m in theirs.conversations_history(channel="C2221")["messages"]] == [
        "their photo"
    ]


def test_files_belong_to_the_workspace_they_were_shared_in(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T2222", domain="second")
    file = slack.add_image(photo(), "chelsea.png", team="T2222")
    assert file["user_team"] == "T2222" and "/files-pri/T2222-" in file["url_private"]
    assert file["permalink"].startswith("https://second.slack.com/files/")
    theirs, ours = bot_client(slack, other.bot_token), bot_client(slack, slack.bot_token)
    assert theirs.files_info(file=file["id"])["file"]["id"] == file["id"]
    with pytest.raises(SlackApiError) as hidden:
        ours.files_info(file=file["id"])
    assert hidden.value.response["error"] == "file_not_found"
    for token, served in ((other.bot_token, True), (slack.bot_token, False)):
        got = requests.get(
            file["url_private"], headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert (got.content == photo()) is served
        assert got.headers["Content-Type"].startswith("image/png" if served else "text/html")
    # An upload started with one workspace's token cannot be completed with another's.
    started = theirs.files_getUploadURLExternal(filename="a.png", length=3)
    assert requests.post(started["upload_url"], data=b"abc", timeout=5).ok
    with pytest.raises(SlackApiError) as not_yours:
        ours.files_completeUploadExternal(files=[{"id": started["file_id"]}])
    assert not_yours.value.response["error"] == "file_not_found"
    theirs.files_completeUploadExternal(files=[{"id": started["file_id"]}])
    assert theirs.files_info(file=started["file_id"])["file"]["user"] == other.bot_user_id


# --------------------------------------------------------------------------- OAuth install


REDIRECT = "http://127.0.0.1:9/slack/oauth_redirect"


def oauth_flow(slack: SlackEmulator, tmp_path: Path, **settings: Any) -> OAuthFlow:
    """Bolt's own OAuth flow pointed at the emulator, as the product will build it."""
    return OAuthFlow(
        client=WebClient(base_url=slack.api_url),
        settings=OAuthSettings(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            scopes=["chat:write", "files:read"],
            redirect_uri=REDIRECT,
            authorization_url=slack.base_url + AUTHORIZE_PATH,
            installation_store=FileInstallationStore(base_dir=str(tmp_path / "installations")),
            state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "s")),
            **settings,
        ),
    )


def consent(url: str) -> dict[str, str]:
    """Open the authorize URL as a browser would; the redirect's query."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def test_install_through_the_authorize_redirect_with_bolts_oauth_flow(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    other = slack.add_workspace("T3330", name="Third", installed=False)
    assert other.bot_token is None
    flow = oauth_flow(slack, tmp_path)
    slack.next_install(team="T3330", user="U3330")
    redirected = consent(flow.build_authorize_url("state-1", BoltRequest(body="")))
    assert redirected["state"] == "state-1" and redirected["code"]

    installation = flow.run_installation(redirected["code"])
    assert installation is not None
    assert installation.team_id == "T3330" and installation.team_name == "Third"
    assert installation.bot_user_id == other.bot_user_id and installation.bot_id == other.bot_id
    assert installation.user_id == "U3330" and installation.bot_scopes == [
        "chat:write",
        "files:read",
    ]
    assert installation.bot_token == other.bot_token
    assert installation.bot_token and installation.bot_token.startswith("xoxb-test-T3330-")
    exchange = slack.calls_to("oauth.v2.access")[-1]
    assert exchange.headers["Authorization"].startswith("Basic ")  # slack_sdk's client credentials
    assert exchange.response == {
        "ok": True,
        "app_id": slack.app_id,
        "authed_user": {"id": "U3330"},
        "access_token": installation.bot_token,
        "token_type": "bot",
        "scope": "chat:write,files:read",
        "bot_user_id": other.bot_user_id,
        "team": {"id": "T3330", "name": "Third"},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    assert unknown_keys(exchange.response, shape("oauth.v2.access")) == []
    assert bot_client(slack, installation.bot_token).auth_test()["team_id"] == "T3330"

    # A code is good once; without rotation a reinstall gets the same bot token back, as on Slack.
    assert flow.run_installation(redirected["code"]) is None
    assert slack.calls_to("oauth.v2.access")[-1].response["error"] == "invalid_code"
    slack.next_install(team="T3330", user="U3330")
    again = flow.run_installation(
        consent(flow.build_authorize_url("s2", BoltRequest(body="")))["code"]
    )
    assert again is not None and again.bot_token == installation.bot_token


def test_oauth_refusals_use_slacks_error_codes(slack: SlackEmulator) -> None:
    client = WebClient(base_url=slack.api_url)
    url = f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write"

    def code(**extra: str) -> str:
        return consent(f"{url}&redirect_uri={REDIRECT}&" + urlencode(extra))["code"]

    def refused(**args: Any) -> str:
        with pytest.raises(SlackApiError) as error:
            client.oauth_v2_access(
                **{"client_id": slack.client_id, "client_secret": slack.client_secret, **args}
            )
        return str(error.value.response["error"])

    fresh = code()
    assert refused(code=fresh, client_secret="wrong") == "bad_client_secret"
    assert refused(code=fresh, client_id="9.9") == "invalid_client_id"
    assert refused(code=fresh, redirect_uri="http://127.0.0.1:9/elsewhere") == "bad_redirect_uri"
    assert refused(code=fresh, grant_type="password") == "invalid_grant_type"
    assert refused(code="1.2.forged", redirect_uri=REDIRECT) == "invalid_code"
    slack.advance_clock(601)  # codes live ten minutes
    assert refused(code=fresh, redirect_uri=REDIRECT) == "invalid_code"
    # The client credentials may also come as form fields.
    by_form = requests.post(
        slack.api_url + "oauth.v2.access",
        data={"client_id": slack.client_id, "client_secret": slack.client_secret, "code": code(),
              "redirect_uri": REDIRECT},
        timeout=5,
    ).json()  # fmt: skip
    assert by_form["ok"] is True and by_form["team"]["id"] == slack.team_id

    slack.next_install(approve=False)
    denied = consent(f"{url}&redirect_uri={REDIRECT}&state=s3")
    assert denied == {"error": "access_denied", "state": "s3"}
    bad_client = requests.get(f"{slack.base_url}{AUTHORIZE_PATH}?client_id=9.9", timeout=5)
    assert bad_client.status_code == 400 and "client_id" in bad_client.text


def test_the_configured_redirect_url_is_enforced_and_used_when_none_is_given() -> None:
    with SlackEmulator(redirect_uri=REDIRECT) as slack:
        url = f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write"
        assert consent(url)["code"]  # Slack sends it to the app's configured Redirect URL
        elsewhere = requests.get(url + "&redirect_uri=http://evil.example/cb", timeout=5)
        assert elsewhere.status_code == 400 and "redirect_uri" in elsewhere.text


def test_token_rotation_refreshes_once_and_spends_the_refresh_token(tmp_path: Path) -> None:
    with SlackEmulator(
        token_rotation=True, token_lifetime=3600, clock=lambda: 1_800_000_000.0
    ) as slack:
        flow = oauth_flow(slack, tmp_path, user_scopes=["identify"])
        redirected = consent(flow.build_authorize_url("s", BoltRequest(body="")))
        installation = flow.run_installation(redirected["code"])
        assert installation is not None and installation.bot_token and installation.user_token
        assert installation.bot_token.startswith("xoxe.xoxb-1-test-")
        assert installation.user_token.startswith("xoxe.xoxp-1-test-")
        assert installation.bot_refresh_token and installation.bot_refresh_token.startswith(
            "xoxe-1-"
        )
        answer = slack.calls_to("oauth.v2.access")[-1].response
        assert answer["expires_in"] == answer["authed_user"]["expires_in"] == 3600
        assert installation.bot_token_expires_at  # slack_sdk dates it from expires_in
        assert unknown_keys(answer, shape("oauth.v2.access")) == []
        old = bot_client(slack, installation.bot_token)
        assert old.auth_test()["ok"] is True
        with pytest.raises(SlackApiError) as user_token:
            bot_client(slack, installation.user_token).chat_postMessage(channel="C1", text="x")
        assert user_token.value.response["error"] == "not_allowed_token_type"

        slack.advance_clock(3600)
        with pytest.raises(SlackApiError) as expired:
            old.auth_test()
        assert expired.value.response["error"] == "token_expired"
        rotator = TokenRotator(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            client=WebClient(base_url=slack.api_url),
        )
        rotated = rotator.perform_token_rotation(installation=installation)
        assert rotated is not None and rotated.bot_token != installation.bot_token
        assert rotated.bot_refresh_token != installation.bot_refresh_token
        assert rotated.user_token != installation.user_token
        assert bot_client(slack, rotated.bot_token).auth_test()["team_id"] == slack.team_id
        assert slack.default_workspace.bot_token == rotated.bot_token
        assert [(r.token_type, r.refresh_token) for r in slack.refreshes] == [
            ("bot", installation.bot_refresh_token),
            ("user", installation.user_refresh_token),
        ]
        refresh = slack.calls_to("oauth.v2.access")[-2].response
        assert unknown_keys(refresh, shape("oauth.v2.access")) == []
        with pytest.raises(SlackTokenRotationError) as spent:
            rotator.perform_bot_token_rotation(
                bot=installation.to_bot(), minutes_before_expiration=999
            )
        assert spent.value.api_error.response["error"] == "invalid_refresh_token"
        assert len(slack.refreshes) == 2


def test_uninstall_revokes_every_token_of_that_workspace_only(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T4440", installed=False)
    slack.token_rotation = True
    try:
        slack.next_install(team="T4440", user="U4440")
        query = f"client_id={slack.client_id}&scope=chat:write&user_scope=identify&redirect_uri={REDIRECT}"
        code = consent(f"{slack.base_url}{AUTHORIZE_PATH}?{query}")["code"]
        answer = WebClient(base_url=slack.api_url).oauth_v2_access(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            code=code,
            redirect_uri=REDIRECT,
        )
    finally:
        slack.token_rotation = False
    bot, user = answer["access_token"], answer["authed_user"]["access_token"]
    assert other.bot_token == bot
    slack.uninstall("T4440")
    assert other.bot_token is None
    for token, error in ((bot, "account_inactive"), (user, "token_revoked")):
        with pytest.raises(SlackApiError) as revoked:
            bot_client(slack, token).auth_test()
        assert revoked.value.response["error"] == error
    with pytest.raises(SlackApiError) as spent:
        WebClient(base_url=slack.api_url).oauth_v2_access(
            client_id=slack.client_id, client_secret=slack.client_secret,
            grant_type="refresh_token", refresh_token=answer["refresh_token"],
        )  # fmt: skip
    assert spent.value.response["error"] == "invalid_refresh_token"
    assert bot_client(slack, slack.bot_token).auth_test()["ok"] is True
    # Installing again issues a new token.
    slack.next_install(team="T4440")
    code = consent(
        f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write&redirect_uri={REDIRECT}"
    )["code"]
    again = WebClient(base_url=slack.api_url).oauth_v2_access(
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        code=code,
        redirect_uri=REDIRECT,
    )
    assert again["access_token"] not in (bot, None) and other.bot_token == again["access_token"]


# --------------------------------------------------------------------------- users and views


def test_users_info_answers_per_workspace(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T5550")
    admin = slack.add_user("U5551", team="T5550", name="ada", is_admin=True)
    assert unknown_keys(admin, shape("users.info")["user"]) == []
    slack.add_user("U5552", team="T5550", is_owner=True, is_primary_owner=True)
    slack.add_user("U5553", team="T5550")
    theirs = bot_client(slack, other.bot_token)
    found = theirs.users_info(user="U5551")["user"]
    assert (found["id"], found["team_id"], found["name"]) == ("U5551", "T5550", "ada")
    assert (found["is_admin"], found["is_owner"], found["is_bot"]) == (True, False, False)
    owner = theirs.users_info(user="U5552")["user"]
    assert owner["is_owner"] and owner["is_primary_owner"] and not owner["is_admin"]
    member = theirs.users_info(user="U5553")["user"]
    assert not (member["is_admin"] or member["is_owner"] or member["is_primary_owner"])
    for client, user in ((theirs, "U0NOBODY"), (bot_client(slack, slack.bot_token), "U5551")):
        with pytest.raises(SlackApiError) as missing:
            client.users_info(user=user)
        assert missing.value.response["error"] == "user_not_found"


HOME = {
    "type": "home",
    "callback_id": "home",
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Settings*"}},
        {"type": "actions", "block_id": "settings", "elements": [
            {"type": "button", "action_id": "edit_settings",
             "text": {"type": "plain_text", "text": "Edit settings"}}]},
    ],
}  # fmt: skip
MODAL = {
    "type": "modal",
    "callback_id": "settings",
    "title": {"type": "plain_text", "text": "Settings"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [{"type": "input", "block_id": "classes", "label": {"type": "plain_text", "text": "Classes"},
                "element": {"type": "plain_text_input", "action_id": "value"}}],
}  # fmt: skip


def test_views_publish_keeps_each_users_home_tab(client: WebClient, slack: SlackEmulator) -> None:
    published = client.views_publish(user_id="U6661", view=HOME)["view"]
    assert unknown_keys(published, shape("views.publish")["view"]) == []
    assert published["type"] == "home" and published["team_id"] == slack.team_id
    assert published["blocks"][0]["block_id"] and published["blocks"][1]["block_id"] == "settings"
    assert slack.home_view("U6661") == published
    assert slack.home_view("U6662") is None
    # As a form field the view is a JSON string; a user's Home keeps its view id.
    again = requests.post(
        slack.api_url + "views.publish",
        data={"token": slack.bot_token, "user_id": "U6661", "view": json.dumps(HOME),
              "hash": published["hash"]},
        timeout=5,
    ).json()  # fmt: skip
    assert again["ok"] is True and again["view"]["id"] == published["id"]
    assert again["view"]["hash"] != published["hash"]
    with pytest.raises(SlackApiError) as stale:
        client.views_publish(user_id="U6661", view=HOME, hash=published["hash"])
    assert stale.value.response["error"] == "hash_conflict"
    other = slack.add_workspace("T6660")
    bot_client(slack, other.bot_token).views_publish(user_id="U6661", view=HOME)
    assert slack.home_view("U6661", team="T6660") != slack.home_view("U6661")

    too_many = {**HOME, "blocks": [HOME["blocks"][0]] * 101}
    for view, message in (
        (
            too_many,
            "[ERROR] view: views must contain between 1 and 100 blocks [json-pointer:/view]",
        ),
        (MODAL, "[ERROR] must be a valid enum value [json-pointer:/view/type]"),
    ):
        with pytest.raises(SlackApiError) as invalid:
            client.views_publish(user_id="U6661", view=view)
        assert invalid.value.response["error"] == "invalid_arguments"
        assert invalid.value.response["response_metadata"]["messages"] == [message]
    for view_arg, message in (
        ('{"type": "home"}', "[ERROR] missing required field: blocks [json-pointer:/view]"),
        ("{not json", "[ERROR] must provide an object [json-pointer:/view]"),
    ):
        form = {"token": slack.bot_token, "user_id": "U6661", "view": view_arg}
        answer = requests.post(slack.api_url + "views.publish", data=form, timeout=5).json()
        assert answer["response_metadata"]["messages"] == [message]


def test_views_open_takes_each_trigger_once_and_views_update_replaces(
    client: WebClient, slack: SlackEmulator
) -> None:
    opened = client.views_open(trigger_id="12345.98765.abcd2358fdea", view=MODAL)["view"]
    assert unknown_keys(opened, shape("views.open")["view"]) == []
    assert opened["title"] == MODAL["title"] and opened["submit"] == MODAL["submit"]
    assert opened["state"] == {"values": {}} and slack.view(opened["id"]) == opened
    for trigger, error in (
        ("12345.98765.abcd2358fdea", "exchanged_trigger_id"),
        ("nope", "invalid_trigger_id"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id=trigger, view=MODAL)
        assert refused.value.response["error"] == error
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    no_title = {k: v for k, v in MODAL.items() if k != "title"}
    mrkdwn_submit = {**MODAL, "submit": {"type": "mrkdwn", "text": "Save"}}
    for view, message in (
        (
            long_title,
            "[ERROR] view: title must be between 1 and 24 characters [json-pointer:/view]",
        ),
        (
            no_title,
            "[ERROR] view title: a plain_text text of at least 1 character [json-pointer:/view]",
        ),
        (
            mrkdwn_submit,
            "[ERROR] view submit: a plain_text text of at least 1 character [json-pointer:/view]",
        ),
    ):
        with pytest.raises(SlackApiError) as invalid:
            client.views_open(trigger_id="1.2.fresh" + str(len(message)), view=view)
        assert invalid.value.response["response_metadata"]["messages"] == [message]

    errors = {**MODAL, "title": {"type": "plain_text", "text": "Try again"}}
    updated = client.views_update(view_id=opened["id"], view=errors)["view"]
    assert unknown_keys(updated, shape("views.update")["view"]) == []
    assert (
        updated["id"] == opened["id"] and slack.view(opened["id"])["title"]["text"] == "Try again"
    )
    by_external = client.views_open(trigger_id="2.3.four", view={**MODAL, "external_id": "ext-1"})[
        "view"
    ]
    client.views_update(
        external_id="ext-1", view={**MODAL, "external_id": "ext-1", "callback_id": "b"}
    )
    assert slack.view(by_external["id"])["callback_id"] == "b"
    other = slack.add_workspace("T7770")
    with pytest.raises(SlackApiError) as not_theirs:
        bot_client(slack, other.bot_token).views_update(view_id=opened["id"], view=MODAL)
    assert not_theirs.value.response["error"] == "not_found"


# --------------------------------------------------------------------------- message metadata


def test_message_metadata_is_listed_only_when_asked_for(
    client: WebClient, slack: SlackEmulator
) -> None:
    metadata = {"event_type": "detection_reply", "event_payload": {"job": "j1", "files": ["F1"]}}
    parent = slack.add_message("CMETA", "a photo")
    posted = client.chat_postMessage(
        channel="CMETA", text="found", thread_ts=parent["ts"], metadata=metadata
    )
    assert posted["message"]["metadata"] == metadata
    plain = client.conversations_replies(channel="CMETA", ts=parent["ts"])["messages"]
    assert [("metadata" in m) for m in plain] == [False, False]
    full = client.conversations_replies(channel="CMETA", ts=parent["ts"], include_all_metadata=True)
    assert full["messages"][1]["metadata"] == metadata
    # In a form, metadata is a JSON string.
    form = {"channel": "CMETA", "text": "top", "metadata": json.dumps(metadata)}
    top = client.api_call("chat.postMessage", data=form)
    history = client.conversations_history(channel="CMETA", include_all_metadata=True)
    assert history["messages"][0]["metadata"] == metadata
    assert unknown_keys(history.data, shape("conversations.history")) == []
    assert "metadata" not in client.conversations_history(channel="CMETA")["messages"][0]

    # chat.update keeps metadata it is not given; an empty object removes it.
    client.chat_update(channel="CMETA", ts=top["ts"], text="edited")
    assert slack.messages("CMETA")[-1]["metadata"] == metadata
    client.chat_update(channel="CMETA", ts=top["ts"], text="edited", metadata={})
    assert "metadata" not in slack.messages("CMETA")[-1]
    for bad, error in (
        ("{oops", "invalid_metadata_format"),
        ('{"event_payload": {}}', "invalid_metadata_schema"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.api_call("chat.postMessage", data={**form, "metadata": bad})
        assert refused.value.response["error"] == error


def event_shape(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / "java-slack-sdk-shapes" / name).read_text())


def test_install_lifecycle_and_home_payloads_reach_bolts_listeners(
    client: WebClient, slack: SlackEmulator, bolt: tuple[str, Received]
) -> None:
    url, received = bolt
    received.clear()
    home = client.views_publish(user_id="U111", view=HOME)["view"]
    modal = client.views_open(trigger_id="7.8.settings", view=MODAL)["view"]
    values = {"classes": {"value": {"type": "plain_text_input", "value": "unicorn"}}}
    click = {"action_id": "edit_settings", "block_id": "settings", "type": "button", "value": "x"}
    events = [
        (slack_signing.app_uninstalled_event(), "events/AppUninstalledPayload.json"),
        (slack_signing.tokens_revoked_event(oauth=["U111"]), "events/TokensRevokedPayload.json"),
        (
            slack_signing.app_home_opened_event("U111", view=home),
            "events/AppHomeOpenedPayload.json",
        ),
    ]
    for envelope, shape_file in events:
        assert unknown_keys(envelope, event_shape(shape_file)) == []
        body = json.dumps(envelope).encode()
        assert slack_signing.post_signed(url, body, "application/json", SECRET).status_code == 200
    interactions = [
        (slack_signing.home_block_actions_payload([click], view=home, user="U111"), "BlockAction"),
        (slack_signing.view_submission_payload(modal, values, user="U111"), "ViewSubmission"),
    ]
    answers = []
    for payload, kind in interactions:
        shape_file = f"app-backend/{kind}Payload.json"
        # Slack's view_submission reference lists response_urls; java-slack-sdk's log has none.
        extra = ["response_urls"] if kind == "ViewSubmission" else []
        assert unknown_keys(payload, event_shape(shape_file)) == extra
        body = slack_signing.interactive_body(payload)
        answers.append(
            slack_signing.post_signed(url, body, "application/x-www-form-urlencoded", SECRET)
        )
    assert answers[1].json() == {
        "response_action": "errors",
        "errors": {"classes": "Unknown class"},
    }

    kinds = {kind: body for kind, body, _ in received}
    assert set(kinds) == {
        "app_uninstalled", "tokens_revoked", "app_home_opened", "home_action", "view_submission"
    }  # fmt: skip
    for kind in ("app_uninstalled", "tokens_revoked", "app_home_opened"):
        assert kinds[kind]["team_id"] == slack.team_id and kinds[kind]["api_app_id"] == slack.app_id
        assert kinds[kind]["authorizations"][0]["user_id"] == BOT_USER_ID
        assert kinds[kind]["event_id"].startswith("Ev") and kinds[kind]["event_time"] > 0
    assert kinds["tokens_revoked"]["event"]["tokens"] == {"oauth": ["U111"], "bot": [BOT_USER_ID]}
    assert kinds["app_home_opened"]["event"]["view"]["id"] == home["id"]
    action = kinds["home_action"]
    assert action["container"] == {"type": "view", "view_id": home["id"]}
    assert "channel" not in action and action["view"]["callback_id"] == "home"
    assert action["team"] == {"id": slack.team_id, "domain": "workspace-domain"}
    submitted = kinds["view_submission"]
    assert submitted["view"]["id"] == modal["id"] and submitted["view"]["state"]["values"] == values
    assert submitted["user"]["id"] == "U111" and "enterprise_id" not in submitted["team"]
    # Each trigger is new, so the app can open a modal from each interaction.
    assert action["trigger_id"] != submitted["trigger_id"]
    assert client.views_open(trigger_id=action["trigger_id"], view=MODAL)["ok"] is True


def test_builders_speak_for_another_workspace(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T8880")
    share = slack_signing.file_share_event(
        [], channel="C8880", ts="1.0", user="U8881", team_id="T8880", bot_user_id=other.bot_user_id
    )
    assert share["team_id"] == "T8880" and share["event_context"].endswith("-T8880-C8880")
    assert share["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T8880",
        "user_id": other.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    gone = slack_signing.app_uninstalled_event(team_id="T8880", bot_user_id=other.bot_user_id)
    assert gone["team_id"] == gone["authorizations"][0]["team_id"] == "T8880"
    opened = slack_signing.app_home_opened_event("U8881", team_id="T8880", bot_user_id="U0BOT8880")
    assert "view" not in opened["event"] and opened["event"]["tab"] == "home"
