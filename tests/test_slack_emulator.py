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
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from PIL import Image
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests import slack_signing
from tests.slack_emulator import (
    BOT_USER_ID,
    CONTRACTS,
    PAYLOADS,
    SlackEmulator,
    load_payload,
)

IMAGES = Path(__file__).parent / "images"
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
    """Keys of ``value`` that Slack's responses never carry (per the java-slack-sdk key supersets)."""
    if isinstance(value, dict) and isinstance(shape, dict):
        found = []
        for key, item in value.items():
            if key not in shape:
                found.append(path + key)
            elif key != "blocks":  # the app's own blocks, echoed back
                found += unknown_keys(item, shape[key], f"{path}{key}.")
        return found
    if isinstance(value, list) and isinstance(shape, list) and shape:
        return [k for item in value for k in unknown_keys(item, shape[0], f"{path}[].")]
    return []


def shape(method: str) -> dict[str, Any]:
    return json.loads((SHAPES / f"{method}.json").read_text())


def photo(name: str = "chelsea.png") -> bytes:
    return (IMAGES / name).read_bytes()


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
