"""bot.slack.files against the Slack emulator over real HTTP: which files, which rendition, the token
only where it belongs (judged on the URL connected to), Slack's login page, redirects, size caps and
every reason a file is skipped."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from PIL import Image
from slack_sdk import WebClient

from bot.httpserver import ServerThread
from bot.net.fetch import MAX_REDIRECTS
from bot.net.urls import parse
from bot.slack.files import (
    NO_ACCESS,
    FileSkipped,
    SlackFileDownloader,
    file_fetcher,
    format_size,
    image_files,
    needs_file_info,
    pick_rendition,
)
from tests.support.photos import IMAGES, photo
from tests.support.slack_emulator import FILE_DOWNLOAD, SlackEmulator, load_payload

LIMIT = 10_000_000
REAL_FILE = load_payload("bolt_message_file_share_event.json")["event"]["files"][0]


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


def downloader_for(
    api_url: str, token: str, *, private_hosts: Iterable[str] = (), **options: Any
) -> SlackFileDownloader:
    fetcher = file_fetcher(api_url, private_hosts)
    return SlackFileDownloader(token, slack_api_url=api_url, fetcher=fetcher, **options)


@pytest.fixture
def downloader(slack: SlackEmulator) -> SlackFileDownloader:
    # The emulator's "offhost" redirects go to localhost, allowed as an operator may allow a host.
    return downloader_for(
        slack.api_url, slack.bot_token, private_hosts=["localhost"], max_bytes=LIMIT
    )


def skipped(loader: SlackFileDownloader, file: dict) -> str:
    with pytest.raises(FileSkipped) as raised:
        loader.download(file)
    return str(raised.value)


# --------------------------------------------------------------------------- choosing files


def test_image_files_keeps_images_and_files_of_unknown_type() -> None:
    pdf = {"id": "F1", "name": "report.pdf", "mimetype": "application/pdf"}
    stub = {"id": "F2", "file_access": "check_file_info"}
    scanning_png = {"id": "F3", "name": "cat.png"}
    scanning_text = {"id": "F4", "name": "notes.txt"}
    hidden = {"id": "F5", "mode": "hidden_by_limit"}
    tombstone = {"id": "F6", "mode": "tombstone"}
    files = [REAL_FILE, pdf, stub, scanning_png, scanning_text, hidden, tombstone]
    assert image_files(files) == [REAL_FILE, stub, scanning_png, hidden, tombstone]
    assert needs_file_info(stub) and not needs_file_info(REAL_FILE)


def test_rendition_is_the_largest_thumbnail_up_to_1024_px() -> None:
    assert pick_rendition(REAL_FILE) == REAL_FILE["thumb_1024"]  # the original is 1134 px wide
    no_1024 = {k: v for k, v in REAL_FILE.items() if not k.startswith("thumb_1024")}
    assert pick_rendition(no_1024) == REAL_FILE["thumb_960"]
    tall = {**REAL_FILE, "thumb_1024_w": 800, "thumb_1024_h": 1100}  # over 1024 px high
    assert pick_rendition(tall) == REAL_FILE["thumb_960"]


def test_rendition_falls_back_to_the_original() -> None:
    # Only the square crops (no _w/_h): they would lose most of the picture.
    crops_only = {
        k: v for k, v in REAL_FILE.items() if not k.startswith("thumb_") or k[6:] in ("64", "80")
    }
    assert pick_rendition(crops_only) == REAL_FILE["url_private_download"]
    no_download = {k: v for k, v in crops_only.items() if k != "url_private_download"}
    assert pick_rendition(no_download) == REAL_FILE["url_private"]
    small = {**REAL_FILE, "original_w": 1024, "original_h": 327}
    assert pick_rendition(small) == REAL_FILE["url_private_download"]  # full quality, same size
    small_heic = {**small, "mimetype": "image/heic"}
    assert pick_rendition(small_heic) == REAL_FILE["thumb_1024"]  # Slack's thumbnails decode
    with pytest.raises(FileSkipped, match="no link"):
        pick_rendition({"id": "F1", "mimetype": "image/png"})


def test_the_token_goes_only_to_slack_hosts(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    allowed = [
        "https://files.slack.com/files-pri/T1-F1/a.png",
        "https://slack.com/api/files.info",
        "https://a.slack-edge.com/x.png",
        "https://slack-files.com/T1-F1-abc",
        "https://files.slack-gov.com/files-pri/T1-F1/a.png",
        f"{slack.base_url}/files-pri/T1-F1/a.png",
    ]
    refused = [
        "http://files.slack.com/files-pri/T1-F1/a.png",  # not over HTTPS
        "https://files.slack.com.evil.example/a.png",
        "https://evilslack.com/a.png",
        f"{slack.offhost_url}/a.png",  # same server, another host name
        f"http://127.0.0.1:{slack.port + 1}/a.png",  # another port
        "https://files.slack.com:8443/files-pri/T1-F1/a.png",
    ]
    assert [u for u in allowed if not downloader.may_send_token(parse(u))] == []
    assert [u for u in refused if downloader.may_send_token(parse(u))] == []


# --------------------------------------------------------------------------- downloading


def large_photo() -> bytes:
    """rocket.jpg enlarged to 1600 px: the test photos are all under Slack's 1024 px thumbnail."""
    out = io.BytesIO()
    with Image.open(IMAGES / "rocket.jpg") as image:
        image.resize((1600, 1068)).save(out, "JPEG")
    return out.getvalue()


def test_download_takes_the_thumbnail_with_the_token(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    file = slack.add_image(large_photo(), "rocket.jpg")
    assert pick_rendition(file) == file["thumb_1024"]
    data = downloader.download(file)
    assert (
        Image.open(io.BytesIO(data)).size
        == (1024, 684)
        == (
            file["thumb_1024_w"],
            file["thumb_1024_h"],
        )
    )
    request = slack.file_requests[-1]
    assert file["thumb_1024"].endswith(request.path)
    assert request.authorization == f"Bearer {slack.bot_token}"


def test_download_of_a_small_photo_is_the_original(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    data = photo("chelsea.png")  # 451 x 300
    file = slack.add_image(data, "chelsea.png")
    assert downloader.download(file) == data


def test_the_login_page_means_no_access(slack: SlackEmulator) -> None:
    file = slack.add_image(photo("chelsea.png"), "chelsea.png")
    wrong = downloader_for(slack.api_url, "xoxb-revoked", max_bytes=LIMIT)
    assert skipped(wrong, file) == NO_ACCESS
    assert slack.file_requests[-1].status == 200  # Slack's answer: 200 and an HTML page


def test_a_redirect_off_slack_drops_the_token(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    data = photo("coffee.png")
    file = slack.add_image(data, "coffee.png", redirect="offhost")
    before = len(slack.file_requests)
    assert downloader.download(file) == data
    on_slack, off_slack = slack.file_requests[before:]
    assert on_slack.status == 302 and on_slack.authorization == f"Bearer {slack.bot_token}"
    assert off_slack.host.startswith("localhost:") and off_slack.authorization is None
    assert all(slack.bot_token not in value for value in off_slack.headers.values())


class Recorder:
    """A server that records the Authorization header of every request, and answers `answer`."""

    def __init__(self, answer: str = "") -> None:
        self.authorizations: list[str | None] = []
        self.answer = answer

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.authorizations.append(environ.get("HTTP_AUTHORIZATION"))
        if self.answer:
            start_response("302 Found", [("Location", self.answer), ("Content-Length", "0")])
        else:
            start_response("200 OK", [("Content-Type", "image/png")])
        return [b"" if self.answer else photo("chelsea.png")]


@pytest.mark.parametrize("hop", ["first", "redirect"])
def test_the_token_never_goes_where_another_parser_would_connect(hop: str) -> None:
    # Finding 4: `http://127.0.0.1:EVIL\@127.0.0.1:SLACK/x` is SLACK_API_URL's origin to urlsplit,
    # and 127.0.0.1:EVIL to urllib3, which connected there with the token.
    evil, slack = Recorder(), Recorder()
    with ServerThread(evil) as attacker, ServerThread(slack) as slack_server:
        path = "/files-pri/T1-F1/download/a.png"
        bent = f"http://127.0.0.1:{attacker.port}\\@127.0.0.1:{slack_server.port}{path}"
        slack.answer = bent if hop == "redirect" else ""
        file = {
            "id": "F1",
            "mimetype": "image/png",
            "url_private_download": bent if hop == "first" else slack_server.url + path,
        }
        loader = downloader_for(slack_server.url + "/api/", "xoxb-secret", max_bytes=LIMIT)
        reason = skipped(loader, file)
    assert evil.authorizations == []
    if hop == "first":
        assert reason == "its link does not point to Slack"
        assert slack.authorizations == []
    else:
        assert reason == "could not be downloaded (connection failed)"
        assert slack.authorizations == ["Bearer xoxb-secret"]


def test_a_link_only_another_parser_reads_as_slack_gets_no_request(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    before = len(slack.file_requests)
    for url in (
        "https://cdn.attacker.test\\@files.slack.com/x.png",
        "https://files.slack.com@cdn.attacker.test/x.png",
        "https://files.slack.com%2F@cdn.attacker.test/x.png",
        "https://files.slack.com./x.png\t",
    ):
        file = {"id": "F1", "mimetype": "image/png", "url_private_download": url}
        assert skipped(downloader, file) == "its link does not point to Slack"
    assert len(slack.file_requests) == before


def test_a_redirect_off_slack_to_a_private_address_is_not_followed(slack: SlackEmulator) -> None:
    file = slack.add_image(photo("coffee.png"), "coffee.png", redirect="offhost")
    strict = downloader_for(
        slack.api_url, slack.bot_token, max_bytes=LIMIT
    )  # localhost not allowed
    before = len(slack.file_requests)
    assert skipped(strict, file) == "could not be downloaded (connection failed)"
    [on_slack] = slack.file_requests[before:]
    assert on_slack.status == 302 and on_slack.host == f"127.0.0.1:{slack.port}"


def test_a_redirect_inside_slack_keeps_the_token(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    data = photo("chelsea.png")
    file = slack.add_image(data, "chelsea.png", redirect="same_host")
    before = len(slack.file_requests)
    assert downloader.download(file) == data
    first, second = slack.file_requests[before:]
    assert (first.status, second.status) == (302, 200)
    assert second.authorization == f"Bearer {slack.bot_token}"


def test_oversized_files_are_refused_without_reading_them_all(slack: SlackEmulator) -> None:
    data = photo("chelsea.png")
    small = downloader_for(slack.api_url, slack.bot_token, max_bytes=100_000)
    declared = slack.add_image(data, "chelsea.png", size=12_345_678)
    before = len(slack.file_requests)
    assert skipped(small, declared) == "too large (12.3 MB, limit 100 kB)"
    assert len(slack.file_requests) == before  # the declared size was enough

    # The file object understates the size: the Content-Length header gives it away...
    understated = slack.add_image(data, "chelsea.png", size=1000)
    assert skipped(small, understated) == f"too large ({format_size(len(data))}, limit 100 kB)"
    # ...and without one, the stream is cut past the limit.
    chunked = slack.add_image(data, "chelsea.png", size=1000, chunked=True)
    assert skipped(small, chunked) == "too large (limit 100 kB)"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"mode": "hidden_by_limit"}, "it is hidden by this workspace's file storage limit"),
        ({"mode": "tombstone"}, "it was deleted"),
        ({"scanning": True}, "Slack is still processing it; try again in a minute"),
    ],
)
def test_files_slack_cannot_give_yet_are_skipped_without_a_request(
    slack: SlackEmulator, downloader: SlackFileDownloader, options: dict, reason: str
) -> None:
    file = slack.add_image(photo("chelsea.png"), "chelsea.png", **options)
    before = len(slack.file_requests)
    assert skipped(downloader, file) == reason
    assert len(slack.file_requests) == before


def test_non_images_are_skipped(slack: SlackEmulator, downloader: SlackFileDownloader) -> None:
    pdf = slack.add_image(b"%PDF-1.4 a report", "report.pdf")
    assert skipped(downloader, pdf) == "not an image (application/pdf)"
    # A file whose URL answers something else than an image (here the Web API's JSON).
    odd = {"id": "F1", "mimetype": "image/png", "url_private": slack.api_url + "api.test"}
    assert skipped(downloader, odd) == "Slack sent application/json instead of an image"


def test_slack_connect_stubs_are_resolved_with_files_info_first(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    data = photo("chelsea.png")
    stub = slack.add_image(data, "chelsea.png", stub=True)
    assert needs_file_info(stub)
    with pytest.raises(ValueError, match=r"files\.info"):
        downloader.download(stub)
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    resolved = client.files_info(file=stub["id"])["file"]
    assert not needs_file_info(resolved)
    assert downloader.download(resolved) == data


def test_http_failures_and_odd_links(slack: SlackEmulator, downloader: SlackFileDownloader) -> None:
    file = slack.add_image(photo("chelsea.png"), "chelsea.png")
    slack.fail_next(FILE_DOWNLOAD, status=503)
    assert skipped(downloader, file) == "could not be downloaded (HTTP 503)"
    slack.fail_next(FILE_DOWNLOAD, status=403)
    assert skipped(downloader, file) == NO_ACCESS
    looping = slack.add_image(photo("chelsea.png"), "chelsea.png", redirect="loop")
    before = len(slack.file_requests)
    assert skipped(downloader, looping) == "could not be downloaded (too many redirects)"
    assert len(slack.file_requests) - before == MAX_REDIRECTS + 1
    gone = {**file, "url_private_download": file["url_private_download"].replace("F0", "F9")}
    assert skipped(downloader, gone) == "it is no longer on Slack"
    elsewhere = {**file, "url_private_download": "https://example.com/chelsea.png"}
    assert skipped(downloader, elsewhere) == "its link does not point to Slack"


def test_network_failures(slack: SlackEmulator) -> None:
    path = "/files-pri/T1-F1/download/a.png"
    file = {"id": "F1", "mimetype": "image/png", "size": 10}
    with socket.socket() as silent:
        # Listening but never answering: the connection opens, the answer never comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        stalled = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = downloader_for(stalled + "/api/", slack.bot_token, max_bytes=LIMIT, timeout=0.2)
        reason = skipped(slow, {**file, "url_private_download": stalled + path})
        assert reason == "could not be downloaded (Slack did not answer in time)"
    closed = stalled  # nothing listens there any more
    nobody = downloader_for(closed + "/api/", slack.bot_token, max_bytes=LIMIT)
    reason = skipped(nobody, {**file, "url_private_download": closed + path})
    assert reason == "could not be downloaded (connection failed)"


def test_the_token_is_not_in_the_repr(
    slack: SlackEmulator, downloader: SlackFileDownloader
) -> None:
    assert slack.bot_token not in repr(downloader)
    assert repr(downloader) == f"SlackFileDownloader(max_bytes={LIMIT}, timeout=10.0)"


def test_format_size() -> None:
    sizes = (512, 870_400, 999_600, 10_000_000, 12_345_678)
    assert [format_size(n) for n in sizes] == ["512 bytes", "870 kB", "1 MB", "10 MB", "12.3 MB"]


def test_slack_api_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        downloader_for("/api/", "xoxb-x", max_bytes=LIMIT)
