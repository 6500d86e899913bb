"""The emulator's files behave like Slack's: served only with the token, real thumbnails and
redirects (test_uploads.py: files_upload_v2)."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.photos import IMAGES, photo
from tests.support.slack_emulator import SlackEmulator, load_payload
from tests.support.slack_webapi import shape, unknown_keys


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
