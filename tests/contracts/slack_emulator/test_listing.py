"""The emulator's files.list lists like Slack's: the files shared in the workspace, newest first,
by channel, type, user and time, in pages, each with where it is shared, in the answer's shape."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.photos import photo
from tests.support.slack_emulator import BOT_USER_ID, CONTRACTS, SlackEmulator
from tests.support.slack_webapi import bot_client, shape, unknown_keys

SPEC = json.loads((CONTRACTS / "specs" / "methods" / "files.list.json").read_text())


def shared(slack: SlackEmulator, channel: str, name: str, **file: object) -> str:
    image = slack.add_image(photo("chelsea.png"), name, **file)  # type: ignore[arg-type]
    slack.add_message(channel, "", files=[image])
    return str(image["id"])


def test_the_files_of_a_channel_newest_first_with_where_they_are_shared(
    slack: SlackEmulator, client: WebClient
):
    older = shared(slack, "CLIST1", "older.png")
    notes = slack.add_image(b"some notes\n", "notes.txt", "text/plain")
    slack.add_message("CLIST1", "", files=[notes])
    newer = shared(slack, "CLIST1", "newer.png")
    slack.add_message("GLIST1", "", files=[{"id": newer}])  # shared again, in a private channel
    shared(slack, "CLIST2", "elsewhere.png")

    listed = client.files_list(channel="CLIST1")

    assert [f["id"] for f in listed["files"]] == [newer, notes["id"], older]
    first = listed["files"][0]
    assert (first["channels"], first["groups"], first["ims"]) == (["CLIST1"], ["GLIST1"], [])
    assert listed["paging"] == {"count": 100, "total": 3, "page": 1, "pages": 1}
    assert set(SPEC["output"]["required"]) <= set(listed.data)
    assert unknown_keys(first, shape("files.info")["file"]) == []
    images = client.files_list(channel="CLIST1", types="images")["files"]
    assert [f["id"] for f in images] == [newer, older]


def test_files_list_filters_by_user_and_time_and_pages(slack: SlackEmulator, client: WebClient):
    mine = shared(slack, "CLIST3", "mine.png")
    drawn = shared(slack, "CLIST3", "drawn.png", user=BOT_USER_ID)

    assert [f["id"] for f in client.files_list(channel="CLIST3", user=BOT_USER_ID)["files"]] == [
        drawn
    ]
    page = client.files_list(channel="CLIST3", count=1, page=2)
    assert [f["id"] for f in page["files"]] == [mine]
    assert page["paging"] == {"count": 1, "total": 2, "page": 2, "pages": 2}
    assert client.files_list(channel="CLIST3", ts_to="1")["files"] == []


def test_deleted_and_hidden_files_are_left_out_and_other_workspaces_channels_refused(
    slack: SlackEmulator, client: WebClient
):
    shared(slack, "CLIST4", "gone.png", mode="tombstone")
    hidden = shared(slack, "CLIST4", "old.png", mode="hidden_by_limit")

    assert client.files_list(channel="CLIST4")["files"] == []
    truncated = client.files_list(channel="CLIST4", show_files_hidden_by_limit=True)["files"]
    assert truncated == [{"id": hidden, "mode": "hidden_by_limit"}]
    with pytest.raises(SlackApiError, match="unknown_type"):
        client.files_list(types="holiday_photos")
    slack.add_workspace("TLIST")
    slack.add_channel("CLIST5", team="TLIST")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        bot_client(slack, slack.bot_token).files_list(channel="CLIST5")
