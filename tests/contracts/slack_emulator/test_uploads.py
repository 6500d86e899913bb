"""The emulator's uploads behave like Slack's: files_upload_v2 end to end, and an image's alt text
refused past Slack's limit, else kept on the file."""

from __future__ import annotations

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.photos import photo
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_webapi import shape, unknown_keys


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


def test_an_images_alt_text_is_kept_on_the_file_where_slack_shows_it(
    client: WebClient, slack: SlackEmulator
) -> None:
    parent = slack.add_message("CALT", "look")
    described = "Photo with 1 cat, a box drawn around it"

    answer = client.files_upload_v2(
        content=photo("chelsea.png"),
        filename="chelsea-detected.jpg",
        alt_txt=described,
        channel="CALT",
        thread_ts=parent["ts"],
    )

    assert slack.calls_to("files.getUploadURLExternal")[-1].args["alt_txt"] == described
    upload = slack.uploads[-1]
    assert (upload.file_id, upload.alt_txt) == (answer["file"]["id"], described)
    info = client.files_info(file=upload.file_id)["file"]
    assert info["alt_txt"] == described
    assert unknown_keys(info, shape("files.info")["file"]) == []
    shared = client.conversations_replies(channel="CALT", ts=parent["ts"])["messages"][-1]
    assert shared["files"][0]["alt_txt"] == described


def test_an_alt_text_over_1000_characters_is_refused(client: WebClient, slack: SlackEmulator):
    longest = "x" * 1000
    client.files_upload_v2(content=b"abc", filename="a.txt", alt_txt=longest)
    assert slack.uploads[-1].alt_txt == longest

    uploads = len(slack.uploads)
    with pytest.raises(SlackApiError) as refused:
        client.files_upload_v2(content=b"abc", filename="b.txt", alt_txt=longest + "x")

    assert refused.value.response["error"] == "alt_txt_too_large"
    assert len(slack.uploads) == uploads
