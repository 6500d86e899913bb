"""The emulator's Web API core behaves like Slack: tokens, required arguments from the method
specs, JSON bodies, injected faults as slack_sdk's retry handlers meet them, and several
workspaces, each refusing the others' tokens."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from tests.support.photos import photo
from tests.support.slack_emulator import BOT_USER_ID, CONTRACTS, SlackEmulator
from tests.support.slack_webapi import bot_client, shape, unknown_keys

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


# --------------------------------------------------------------------------- several workspaces


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
