"""bot.net.fetch against real servers on loopback: resolved once and checked, connected to the
checked address with the name kept (Host, SNI, the certificate), every redirect judged again, the
caller's headers only where it says, the size cap and the deadline.

Names resolve through an injected resolver (tests.support.dns), so a name can point anywhere and
change its answer between two lookups (DNS rebinding). Nothing here connects anywhere but loopback.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

import pytest

from bot.httpserver import ServerThread
from bot.net.fetch import (
    MAX_REDIRECTS,
    Fetcher,
    FetchError,
    Refused,
    Reply,
    TooLarge,
    TooManyRedirects,
    TooSlow,
)
from bot.net.urls import Location, parse
from tests.support.dns import Dns
from tests.support.photos import photo

PHOTO = photo("chelsea.png")
BIG = 2_000_000


class Origin:
    """Serves /photo, /hops/N (N relative redirects, then the photo), /to?TARGET (a redirect to
    TARGET), /big (declared), /big-undeclared, /trickle and a 404 for anything else; records
    each request's path, Host and Authorization."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.seen.append((path, environ["HTTP_HOST"], environ.get("HTTP_AUTHORIZATION")))
        if path.startswith("/hops/") and int(path.removeprefix("/hops/")) > 0:
            return self._redirect(start_response, f"{int(path.removeprefix('/hops/')) - 1}")
        if path == "/to":
            return self._redirect(start_response, unquote(environ["QUERY_STRING"]))
        if path in ("/photo", "/hops/0"):
            start_response("200 OK", [("Content-Length", str(len(PHOTO)))])
            return [PHOTO]
        if path == "/big":
            start_response("200 OK", [("Content-Length", str(BIG))])
            return [b"\0" * BIG]
        if path == "/big-undeclared":
            start_response("200 OK", [])
            return (b"\0" * 65536 for _ in range(BIG // 65536 + 1))
        if path == "/trickle":
            start_response("200 OK", [("Content-Length", "100000")])
            return self._trickle()
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    @staticmethod
    def _redirect(start_response: Any, location: str) -> list[bytes]:
        start_response("302 Found", [("Location", location), ("Content-Length", "0")])
        return [b""]

    def _trickle(self) -> Iterator[bytes]:
        for _ in range(1000):
            yield b"\x89PNG"
            if self.release.wait(0.02):
                return


@pytest.fixture(scope="module")
def shared_origin() -> Origin:
    return Origin()


@pytest.fixture(scope="module")
def server(shared_origin: Origin) -> Iterator[ServerThread]:
    with ServerThread(shared_origin) as running:
        yield running


@pytest.fixture
def origin(shared_origin: Origin) -> Origin:
    shared_origin.seen.clear()
    return shared_origin


def fetch(fetcher: Fetcher, url: str, **options: Any) -> bytes:
    return fetcher.fetch(url, max_bytes=1_000_000, timeout=5, **options)


def allowed(
    hosts: Sequence[str], answers: Mapping[str, Sequence[Sequence[str]]]
) -> tuple[Fetcher, Dns]:
    dns = Dns(answers)
    return Fetcher(private_hosts=hosts, resolve=dns.resolve), dns


# --- where the connection goes -------------------------------------------------------------------


def test_a_name_is_resolved_once_and_connected_to_with_its_name_kept(
    server: ServerThread, origin: Origin
) -> None:
    fetcher, dns = allowed(["images.test"], {"images.test": [["127.0.0.1"]]})
    assert fetch(fetcher, f"http://Images.TEST:{server.port}/photo") == PHOTO
    assert dns.asked == ["images.test"]
    assert origin.seen == [("/photo", f"images.test:{server.port}", None)]


def test_dns_rebinding_the_connection_goes_to_the_answer_that_was_checked(
    server: ServerThread, origin: Origin
) -> None:
    other = Origin()
    with ServerThread(other, host="127.0.0.2", port=server.port):
        fetcher, dns = allowed(["rebind.test"], {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
        url = f"http://rebind.test:{server.port}/photo"
        assert fetch(fetcher, url) == PHOTO
        assert (len(origin.seen), len(other.seen), dns.asked) == (1, 0, ["rebind.test"])
        # The second answer is the next fetch's, and that fetch goes there.
        assert fetch(fetcher, url) == PHOTO
        assert (len(origin.seen), len(other.seen)) == (1, 1)


def test_a_name_checked_public_is_connected_to_at_that_address_never_looked_up_again() -> None:
    dns = Dns({"rebind.test": [["1.1.1.1", "2606:4700:4700::1111"], ["127.0.0.1"]]})
    fetcher = Fetcher(resolve=dns.resolve)
    assert fetcher.addresses(parse("http://rebind.test/img")) == ["1.1.1.1", "2606:4700:4700::1111"]
    assert dns.asked == ["rebind.test"]


def test_a_name_with_any_private_address_is_refused_before_connecting(
    server: ServerThread, origin: Origin
) -> None:
    dns = Dns(
        {
            "mixed.test": [["1.1.1.1", "127.0.0.1"]],
            "rebind.test": [["127.0.0.1"], ["1.1.1.1"]],
            "mapped.test": [["::ffff:127.0.0.1"]],
            "metadata.test": [["169.254.169.254"]],
        }
    )
    fetcher = Fetcher(resolve=dns.resolve)
    for name in ("mixed.test", "rebind.test", "mapped.test", "metadata.test"):
        with pytest.raises(Refused, match=f"{name} has an address that is not public"):
            fetch(fetcher, f"http://{name}:{server.port}/photo")
    assert dns.asked == ["mixed.test", "rebind.test", "mapped.test", "metadata.test"]
    assert origin.seen == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "[::1]:{port}", "[::ffff:127.0.0.1]:{port}", "0.0.0.0:{port}",
     "169.254.169.254", "10.0.0.1", "192.168.1.1", "100.64.0.1", "[fe80::1]"],
)  # fmt: skip
def test_private_addresses_are_refused_without_a_lookup(
    host: str, server: ServerThread, origin: Origin
) -> None:
    dns = Dns()
    with pytest.raises(Refused, match="not public"):
        fetch(Fetcher(resolve=dns.resolve), f"http://{host.format(port=server.port)}/photo")
    assert dns.asked == []
    assert origin.seen == []


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(
    server: ServerThread, origin: Origin
) -> None:
    # Nothing listens on 127.0.0.2 at the origin's port.
    fetcher, _ = allowed(["two.test"], {"two.test": [["127.0.0.2", "127.0.0.1"]]})
    assert fetch(fetcher, f"http://two.test:{server.port}/photo") == PHOTO
    assert len(origin.seen) == 1


def test_an_allowed_address_lets_only_urls_naming_it_through(
    server: ServerThread, origin: Origin
) -> None:
    fetcher = Fetcher(
        private_hosts=["127.0.0.1"], resolve=Dns({"localhost": [["127.0.0.1"]]}).resolve
    )
    assert fetch(fetcher, f"{server.url}/photo") == PHOTO
    with pytest.raises(Refused):  # the same address, but not the host that was allowed
        fetch(fetcher, f"http://localhost:{server.port}/photo")
    with pytest.raises(Refused):
        fetch(fetcher, "http://10.0.0.1/photo")
    assert len(origin.seen) == 1


def test_private_urls_lets_every_address_through_but_not_a_malformed_url(
    server: ServerThread, origin: Origin
) -> None:
    fetcher = Fetcher(private_urls=True)
    assert fetch(fetcher, f"{server.url}/photo") == PHOTO
    with pytest.raises(Refused, match="backslash"):
        fetch(fetcher, f"{server.url}\\@1.1.1.1/photo")
    assert len(origin.seen) == 1


# --- redirects -------------------------------------------------------------------------------------


def test_up_to_five_redirects_are_followed_each_resolved_and_checked(
    server: ServerThread, origin: Origin
) -> None:
    fetcher, dns = allowed(["images.test"], {"images.test": [["127.0.0.1"]]})
    base = f"http://images.test:{server.port}"
    assert fetch(fetcher, f"{base}/hops/{MAX_REDIRECTS}") == PHOTO
    assert len(origin.seen) == len(dns.asked) == MAX_REDIRECTS + 1
    origin.seen.clear()
    with pytest.raises(TooManyRedirects):
        fetch(fetcher, f"{base}/hops/{MAX_REDIRECTS + 1}")
    assert len(origin.seen) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/photo",  # private, and not allowed
        "http://10.1.2.3/photo",
        "http://127.0.0.1:{port}\\@1.1.1.1/photo",
        "\\\\127.0.0.1:{port}/photo",
        "ftp://images.test/photo",
        "file:///etc/passwd",
        "http://user:pass@images.test:{port}/photo",
    ],
)
def test_a_redirect_is_judged_by_the_same_rule(
    target: str, server: ServerThread, origin: Origin
) -> None:
    fetcher, _ = allowed(
        ["images.test"], {"images.test": [["127.0.0.1"]], "localhost": [["127.0.0.1"]]}
    )
    with pytest.raises(Refused):
        redirect = quote(target.format(port=server.port), safe="")
        fetch(fetcher, f"http://images.test:{server.port}/to?{redirect}")
    assert [path for path, _, _ in origin.seen] == ["/to"]


def test_headers_go_only_to_the_hops_the_caller_names(server: ServerThread, origin: Origin) -> None:
    loopback = [["127.0.0.1"]]
    answers = {"a.test": loopback, "b.test": loopback, "c.test": loopback}
    fetcher, _ = allowed(["a.test", "b.test"], answers)  # c.test is not allowed on loopback
    asked: list[Location] = []

    def token_for_a(location: Location) -> Mapping[str, str]:
        asked.append(location)
        return {"Authorization": "Bearer xoxb-1"} if location.host == "a.test" else {}

    port = server.port
    url = f"http://a.test:{port}/to?http://b.test:{port}/to?http://a.test:{port}/photo"
    assert fetch(fetcher, url, headers=token_for_a) == PHOTO
    assert origin.seen == [
        ("/to", f"a.test:{port}", "Bearer xoxb-1"),
        ("/to", f"b.test:{port}", None),
        ("/photo", f"a.test:{port}", "Bearer xoxb-1"),
    ]
    assert [location.host for location in asked] == ["a.test", "b.test", "a.test"]
    # A hop the rule refuses is never offered the headers.
    asked.clear()
    with pytest.raises(Refused):
        fetch(fetcher, f"http://a.test:{port}/to?http://c.test/photo", headers=token_for_a)
    assert [location.host for location in asked] == ["a.test"]


# --- the answer --------------------------------------------------------------------------------------


def test_the_size_cap_holds_declared_or_not(server: ServerThread, origin: Origin) -> None:
    fetcher = Fetcher(private_urls=True)
    with pytest.raises(TooLarge) as declared:
        fetch(fetcher, f"{server.url}/big")
    assert declared.value.size == BIG
    with pytest.raises(TooLarge) as streamed:
        fetch(fetcher, f"{server.url}/big-undeclared")
    assert streamed.value.size is None


def test_accept_sees_the_final_answer_before_its_body_and_may_refuse_it(
    server: ServerThread, origin: Origin
) -> None:
    fetcher = Fetcher(private_urls=True)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(fetcher, f"{server.url}/missing")
    replies: list[Reply] = []

    def refuse(reply: Reply) -> None:
        replies.append(reply)
        raise LookupError("not this one")

    with pytest.raises(LookupError, match="not this one"):
        fetch(fetcher, f"{server.url}/hops/1", accept=refuse)
    [reply] = replies
    assert reply.status == 200 and reply.headers["content-length"] == str(len(PHOTO))
    assert fetch(fetcher, f"{server.url}/photo") == PHOTO  # the pool's connection still works


def test_a_trickle_and_a_silent_server_are_cut_at_the_deadline(
    server: ServerThread, origin: Origin
) -> None:
    fetcher = Fetcher(private_urls=True)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the kernel and never answered
        for url in (f"{server.url}/trickle", f"http://127.0.0.1:{silent.getsockname()[1]}/"):
            started = time.monotonic()
            with pytest.raises(TooSlow):
                fetcher.fetch(url, max_bytes=1_000_000, timeout=0.5)
            assert time.monotonic() - started < 3  # 0.5 s promised; margin for a loaded machine
    origin.release.set()


def test_failures_name_the_host_never_the_url(server: ServerThread) -> None:
    fetcher, _ = allowed(["images.test", "nowhere.test"], {"images.test": [["127.0.0.1"]]})
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = closed.getsockname()[1]
        with pytest.raises(FetchError) as refused:
            fetch(fetcher, f"http://images.test:{port}/photo?token=s3cret")
    assert str(refused.value) == "could not connect to images.test"
    with pytest.raises(FetchError) as unresolved:
        fetch(fetcher, "http://nowhere.test/photo?token=s3cret")
    assert str(unresolved.value) == "could not resolve nowhere.test"
