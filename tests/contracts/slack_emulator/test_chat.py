"""The emulator's messages, reactions and conversations behave like Slack's, with message
metadata."""

from __future__ import annotations

import json
import threading
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.slack_emulator import CONTRACTS, SlackEmulator
from tests.support.slack_webapi import shape, unknown_keys

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
