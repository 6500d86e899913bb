"""The embedded API's `url` images over real HTTP: fetched through bot.net.fetch (size cap,
deadline, no way into the network it runs in, one answer whatever went wrong), on threads of their
own so that links to a slow server never delay an upload, all of a job's by its deadline.

Names under `.test` resolve through tests.support.dns, which stands in for the DNS server an
attacker runs (it answers as told, and changes its answer between lookups): the API resolves
through `socket.getaddrinfo` as ever, and every other name goes to the system's resolver.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable

import pytest

from bot.httpserver import ServerThread
from bot.localapi.analysis import JOB_FETCH_SECONDS, NOT_FETCHED
from bot.localapi.service import create_app, serve, start_local_api
from bot.localapi.work import LINK_THREADS
from tests.support.dns import Dns
from tests.support.faultserver import free_port
from tests.support.imagehost import (
    IMAGE_CAP,
    ImageHost,
    Stall,
    upload_beside_stalled_links,
)
from tests.support.localapi_client import (
    Api,
    ApiLike,
    bearer,
    by_class,
    classes,
    detect,
    submit,
    wait_for,
)
from tests.support.waiting import until


def test_url_images_are_fetched_with_a_size_cap_and_a_deadline(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(max_image_bytes=IMAGE_CAP, url_timeout=0.5, private_urls=True)
    host = ImageHost()
    with ServerThread(host) as image_server:
        urls = {
            "photo": f"{image_server.url}/chelsea.png",
            "big": f"{image_server.url}/big",
            "big-undeclared": f"{image_server.url}/big-undeclared",
            "trickle": f"{image_server.url}/trickle",
            "missing": f"{image_server.url}/missing.png",
            "refused": f"http://127.0.0.1:{free_port()}/x.png",
            "ftp": "ftp://127.0.0.1/x.png",
            "file": "file:///etc/passwd",
        }
        body = {
            "images": [{"url": url, "customId": name} for name, url in urls.items()],
            "classes": classes("cat"),
        }
        started = time.monotonic()
        try:
            job = detect(api, body)
        finally:
            host.release.set()
        elapsed = time.monotonic() - started

    assert job["status"] == "COMPLETED_PARTIAL_ERROR"
    images = {image["customId"]: image for image in job["imageResults"]}
    assert images["photo"]["status"] == "COMPLETED_SUCCESSFULLY"
    assert images["photo"]["url"] == urls["photo"]
    assert by_class(images["photo"])["cat"]["verdict"] is True
    errors = {name: image["error"] for name, image in images.items() if name != "photo"}
    assert {images[name]["status"] for name in errors} == {"IMAGE_DOWNLOAD_ERROR"}
    assert errors == {
        "big": f"larger than {IMAGE_CAP} bytes",
        "big-undeclared": f"larger than {IMAGE_CAP} bytes",
        "trickle": "took longer than 0.5 s",
        # No status code, and nothing to tell a closed port from a missing path.
        "missing": NOT_FETCHED,
        "refused": NOT_FETCHED,
        "ftp": NOT_FETCHED,
        "file": NOT_FETCHED,
    }
    # The trickle was cut at its deadline, not after its declared 100 kB arrived (~20 s).
    assert elapsed < 5


def test_by_default_url_images_on_local_addresses_are_refused_without_a_request(
    local_api: ApiLike, make_api: Callable[..., Api]
) -> None:
    host = ImageHost()
    with ServerThread(host) as image_server:
        url = f"{image_server.url}/chelsea.png"
        body = {"images": [{"url": url}], "classes": classes("cat")}
        # start_local_api() (what the bot runs) and create_app() both default to refusing.
        for api in (local_api, make_api()):
            job = detect(api, body)
            assert job["status"] == "COMPLETED_ALL_ERROR"
            [image] = job["imageResults"]
            assert (image["status"], image["error"]) == ("IMAGE_DOWNLOAD_ERROR", NOT_FETCHED)
    assert host.seen == []


def test_allowed_private_hosts_are_fetched_and_no_other(make_api: Callable[..., Api]) -> None:
    api = make_api(allowed_private_hosts=["127.0.0.1"])
    host = ImageHost()
    with ServerThread(host) as image_server:
        urls = {
            "allowed": f"{image_server.url}/chelsea.png",
            "localhost": f"http://localhost:{image_server.port}/chelsea.png",
            "missing": f"{image_server.url}/missing.png",
        }
        body = {
            "images": [{"url": url, "customId": name} for name, url in urls.items()],
            "classes": classes("cat"),
        }
        job = detect(api, body)
    images = {image["customId"]: image for image in job["imageResults"]}
    assert images["allowed"]["status"] == "COMPLETED_SUCCESSFULLY"
    assert by_class(images["allowed"])["cat"]["verdict"] is True
    assert images["localhost"]["status"] == "IMAGE_DOWNLOAD_ERROR"
    assert images["localhost"]["error"] == images["missing"]["error"] == NOT_FETCHED
    assert sorted(host.seen) == ["/chelsea.png", "/missing.png"]


@pytest.mark.parametrize("entry", ["http://intranet/", "intranet:8080", ""])
def test_an_allowed_private_host_that_is_not_a_host_is_refused_at_start(
    entry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    message = f"{entry!r} is not a host name or an IP address"
    with pytest.raises(ValueError, match=re.escape(message)):
        create_app("id", "secret", allowed_private_hosts=["intranet", entry])
    with pytest.raises(ValueError, match=re.escape(message)):
        start_local_api(allowed_private_hosts=[entry])
    with pytest.raises(ValueError, match=re.escape(message)):
        serve("127.0.0.1", free_port(), allowed_private_hosts=[entry])
    assert capsys.readouterr().out == ""  # serve printed no settings for a server it never ran


# --- the security review's variants -----------------------------------------------------------


PUBLIC = "1.1.1.1"
HOSTILE_DNS = {
    "loopback.test": [["127.0.0.1"]],
    "mixed.test": [[PUBLIC, "127.0.0.1"]],
    "v6.test": [["::1"]],
    "mapped.test": [["::ffff:127.0.0.1"]],
    "metadata.test": [["169.254.169.254"]],
    "rebind.test": [[PUBLIC], ["127.0.0.1"]],  # public when checked, loopback when connecting
    "strasse.test": [[PUBLIC]],  # "straße.test" to IDNA 2003, which the old check resolved
    "xn--strae-oqa.test": [["127.0.0.1"]],  # ...and to UTS-46, which requests connected to
}
FULLWIDTH_LOCALHOST = "".join(chr(ord(c) + 0xFEE0) for c in "localhost")
IDEOGRAPHIC_DOT = "\u3002"
# 35 ways to point a link at the API's own host or network. The old check (urlsplit's host, looked
# up, then requests connecting to urllib3's, looked up again) let the last six reach loopback.
VARIANTS = [
    "http://127.0.0.1:{port}/chelsea.png",
    "http://localhost:{port}/chelsea.png",
    "http://LOCALHOST:{port}/chelsea.png",
    "http://[::1]:{port}/chelsea.png",
    "http://[::ffff:127.0.0.1]:{port}/chelsea.png",
    "http://[::ffff:7f00:1]:{port}/chelsea.png",
    "http://2130706433:{port}/chelsea.png",
    "http://0x7f000001:{port}/chelsea.png",
    "http://0177.0.0.1:{port}/chelsea.png",
    "http://127.1:{port}/chelsea.png",
    "http://0.0.0.0:{port}/chelsea.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/chelsea.png",
    "http://10.0.0.1/chelsea.png",
    "http://192.168.1.1/chelsea.png",
    "http://100.64.0.1/chelsea.png",
    "http://user:pass@127.0.0.1:{port}/chelsea.png",
    "http://1.1.1.1@127.0.0.1:{port}/chelsea.png",
    "http://127.0.0.1:{port}#@1.1.1.1/chelsea.png",
    "http://127.0.0.1:{port}?@1.1.1.1/chelsea.png",
    "http://1.1.1.1\\@127.0.0.1:{port}/chelsea.png",
    "http:/\\127.0.0.1:{port}/chelsea.png",
    f"http://{FULLWIDTH_LOCALHOST}:{{port}}/chelsea.png",
    f"http://127{IDEOGRAPHIC_DOT}0{IDEOGRAPHIC_DOT}0{IDEOGRAPHIC_DOT}1:{{port}}/chelsea.png",
    "http://loopback.test:{port}/chelsea.png",
    "http://mixed.test:{port}/chelsea.png",
    "http://v6.test:{port}/chelsea.png",
    "http://mapped.test:{port}/chelsea.png",
    "http://metadata.test/latest/meta-data/",
    "http://127.0.0.1:{port}\\@1.1.1.1/chelsea.png",
    "http://127.0.0.1:{port}\\@1.1.1.1/../../chelsea.png",
    "http://127.0.0.1:{port}\\\\@1.1.1.1/chelsea.png",
    "http://localhost:{port}\\@1.1.1.1/chelsea.png",
    "http://rebind.test:{port}/chelsea.png",
    "http://stra\u00dfe.test:{port}/chelsea.png",
]


def test_the_review_s_35_variants_are_refused_alike_and_none_reaches_loopback(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(VARIANTS) == 35
    monkeypatch.setattr(socket, "getaddrinfo", Dns(HOSTILE_DNS).getaddrinfo)
    api = make_api(url_timeout=2)  # rebind.test connects to 1.1.1.1, which may not answer
    host = ImageHost()
    with ServerThread(host) as image_server:
        urls = [variant.format(port=image_server.port) for variant in VARIANTS]
        job = detect(api, {"images": [{"url": url} for url in urls], "classes": classes("cat")})
    assert host.seen == []
    answers = {(image["status"], image["error"]) for image in job["imageResults"]}
    assert answers == {("IMAGE_DOWNLOAD_ERROR", NOT_FETCHED)}


# --- fair shares ---------------------------------------------------------------------------------


def test_links_to_a_stalled_server_do_not_delay_an_upload(make_api: Callable[..., Api]) -> None:
    api = make_api(workers=1, allowed_private_hosts=["127.0.0.1"])
    upload, took, waiting, links = upload_beside_stalled_links(api)
    assert upload["status"] == "COMPLETED_SUCCESSFULLY"
    # Before, the one detector thread was taken by the first link for url_timeout (10 s), then by
    # the next: the upload waited 100 s. The bound leaves room for a loaded machine.
    assert took < 5
    assert waiting == LINK_THREADS  # no link had given up yet: the upload did not wait for one
    assert {image["status"] for image in links["imageResults"]} == {"IMAGE_DOWNLOAD_ERROR"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_job_s_links_are_fetched_by_its_deadline(make_api: Callable[..., Api]) -> None:
    clock = Clock(1_700_000_000.0)
    api = make_api(url_timeout=1, allowed_private_hosts=["127.0.0.1"], clock=clock)
    headers = bearer(api)
    with Stall() as stall:
        links = [{"url": f"{stall.url}/{n}.png"} for n in range(2 * LINK_THREADS)]
        job_id = submit(api, {"images": links, "classes": classes("cat")}, headers)["id"]
        assert until(lambda: stall.accepted == LINK_THREADS, timeout=10)
        clock.now += JOB_FETCH_SECONDS + 1  # while the first links wait on the stalled server
        job = wait_for(api, job_id, headers)
        assert stall.accepted == LINK_THREADS  # the others were not even tried
    errors = [image["error"] for image in job["imageResults"]]
    ran_out = f"its job's {JOB_FETCH_SECONDS:g} s for fetching links ran out"
    assert sorted(errors) == sorted(["took longer than 1 s"] * LINK_THREADS + [ran_out] * 4)


def test_a_job_keeps_no_credentials_or_query_of_the_links_it_fetched(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(allowed_private_hosts=["127.0.0.1"])
    with ServerThread(ImageHost()) as image_server:
        plain = f"{image_server.url}/chelsea.png"
        signed = f"{plain}?X-Amz-Signature=s3cr3t&token=t0k3n#frag"
        body = {"images": [{"url": signed, "customId": "signed"}], "classes": classes("cat")}
        job = detect(api, body)
    (image,) = job["imageResults"]
    assert image["status"] == "COMPLETED_SUCCESSFULLY"  # fetched with the whole link
    assert image["url"] == plain  # kept and shown without the rest
    assert "s3cr3t" not in json.dumps(job) and "t0k3n" not in json.dumps(job)  # as stored
