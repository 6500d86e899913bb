"""`download`: the address check against server-side request forgery, the private hosts an operator
allows, and redirects, hop by hop.

Nothing here connects anywhere but 127.0.0.1. Where a URL must pass the address check (a public
address literal), the session sends it through an HTTP proxy that is the loopback origin below,
so the request lands there instead; the same proxy catches any request to a refused address
that the check would have let through.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from bot.httpserver import ServerThread
from bot.net.fetch import MAX_REDIRECTS, DownloadError, download
from bot.net.hosts import private_hosts
from tests.support.photos import photo

PHOTO = photo("chelsea.png")
PUBLIC = "http://1.1.1.1"  # passes the check; only ever reached through the loopback proxy
PRIVATE = "it points at a private or local address"


class Origin:
    """Serves /photo, /hops/N (N relative redirects, then the photo) and /to?TARGET (a redirect
    to TARGET); records every request target it receives."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ["PATH_INFO"]  # absolute ("http://1.1.1.1/photo") when sent as a proxy
        self.seen.append(target)
        path = urlsplit(target).path
        if path.startswith("/hops/") and int(path.removeprefix("/hops/")) > 0:
            location = f"{int(path.removeprefix('/hops/')) - 1}"
        elif path == "/to":
            location = unquote(environ["QUERY_STRING"])
        else:
            start_response("200 OK", [("Content-Length", str(len(PHOTO)))])
            return [PHOTO]
        start_response("302 Found", [("Location", location), ("Content-Length", "0")])
        return [b""]


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


@pytest.fixture
def direct() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def proxied(server: ServerThread) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # no environment proxy or no_proxy may take over
        session.proxies = {"http": server.url}
        yield session


def fetch(
    session: requests.Session,
    url: str,
    *,
    private_urls: bool = False,
    allowed: tuple[str, ...] = (),
) -> bytes:
    return download(
        session,
        url,
        max_bytes=1_000_000,
        timeout=5,
        private_urls=private_urls,
        allowed_private_hosts=allowed,
    )


def refusal(session: requests.Session, url: str, **options: Any) -> str:
    with pytest.raises(DownloadError) as caught:
        fetch(session, url, **options)
    return str(caught.value)


def test_public_addresses_pass_the_check(proxied: requests.Session, origin: Origin) -> None:
    assert fetch(proxied, f"{PUBLIC}/photo") == PHOTO
    assert origin.seen == [f"{PUBLIC}/photo"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "[::1]:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "2130706433:{port}",  # 127.0.0.1 as one number
        "0.0.0.0:{port}",
        "169.254.169.254",  # cloud metadata
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
    ],
)
def test_local_and_private_addresses_are_refused_before_connecting(
    host: str, server: ServerThread, proxied: requests.Session, origin: Origin
) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(proxied, f"http://{host.format(port=server.port)}/photo")
    assert str(caught.value) == PRIVATE
    assert origin.seen == []


@pytest.mark.parametrize("url", ["http://" + "x" * 64 + ".example/photo", "http:///photo"])
def test_hosts_that_do_not_resolve_are_refused(
    url: str, proxied: requests.Session, origin: Origin
) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(proxied, url)
    assert str(caught.value) == "could not resolve its host"
    assert origin.seen == []


def test_a_redirect_to_a_local_address_is_refused(
    server: ServerThread, proxied: requests.Session, origin: Origin
) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(proxied, f"{PUBLIC}/to?{server.url}/photo")
    assert str(caught.value) == PRIVATE
    assert origin.seen == [f"{PUBLIC}/to"]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("file:///etc/passwd", "only http and https URLs can be fetched"),
        ("ftp://127.0.0.1/photo", "only http and https URLs can be fetched"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_every_redirect_is_checked_even_when_private_urls_are_allowed(
    target: str, reason: str, server: ServerThread, direct: requests.Session, origin: Origin
) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(direct, f"{server.url}/to?{target}", private_urls=True)
    assert str(caught.value) == reason
    assert origin.seen == ["/to"]


def test_up_to_five_redirects_are_followed(
    server: ServerThread, direct: requests.Session, origin: Origin
) -> None:
    assert fetch(direct, f"{server.url}/hops/{MAX_REDIRECTS}", private_urls=True) == PHOTO
    assert len(origin.seen) == MAX_REDIRECTS + 1
    origin.seen.clear()
    with pytest.raises(DownloadError) as caught:
        fetch(direct, f"{server.url}/hops/{MAX_REDIRECTS + 1}", private_urls=True)
    assert str(caught.value) == "redirected more than 5 times"
    assert origin.seen == [f"/hops/{n}" for n in range(MAX_REDIRECTS + 1, 0, -1)]


# --- private hosts an operator allows ----------------------------------------------------------


@pytest.mark.parametrize("allowed", ["127.0.0.1", " 127.0.0.1 ", "localhost", "LocalHost."])
def test_an_allowed_private_host_is_fetched(
    allowed: str, server: ServerThread, direct: requests.Session, origin: Origin
) -> None:
    host = "localhost" if "localhost" in allowed.lower() else "127.0.0.1"
    assert fetch(direct, f"http://{host}:{server.port}/photo", allowed=(allowed,)) == PHOTO
    assert origin.seen == ["/photo"]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/photo",  # the same address, but not the host that was allowed
        "http://2130706433:{port}/photo",
        "http://[::ffff:127.0.0.1]:{port}/photo",
        "http://10.0.0.1/photo",
        "http://169.254.169.254/photo",
    ],
)
def test_every_other_private_address_stays_refused(
    url: str, server: ServerThread, proxied: requests.Session, origin: Origin
) -> None:
    target = url.format(port=server.port)
    assert refusal(proxied, target, allowed=("127.0.0.1", "intranet.example")) == PRIVATE
    assert origin.seen == []


def test_redirects_from_an_allowed_host_are_checked_hop_by_hop(
    server: ServerThread, direct: requests.Session, origin: Origin
) -> None:
    allowed = ("127.0.0.1",)
    assert fetch(direct, f"{server.url}/hops/2", allowed=allowed) == PHOTO
    assert origin.seen == ["/hops/2", "/hops/1", "/hops/0"]
    origin.seen.clear()
    to_localhost = f"{server.url}/to?http://localhost:{server.port}/photo"
    assert refusal(direct, to_localhost, allowed=allowed) == PRIVATE
    assert refusal(direct, f"{server.url}/to?http://10.1.2.3/photo", allowed=allowed) == PRIVATE
    assert origin.seen == ["/to", "/to"]
    assert refusal(direct, "ftp://127.0.0.1/photo", allowed=allowed) == (
        "only http and https URLs can be fetched"
    )


def test_an_allowed_host_that_does_not_answer_says_so(direct: requests.Session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        reason = refusal(direct, f"http://127.0.0.1:{port}/photo", allowed=("127.0.0.1",))
    assert reason == "could not connect to its server"


def test_private_hosts_are_normalised_as_urls_name_them() -> None:
    assert private_hosts(["Intranet.Example.", "[::1]", "0:0:0::1", " 10.0.0.5", "img_1.corp"]) == {
        "intranet.example",
        "::1",
        "10.0.0.5",
        "img_1.corp",
    }
    assert private_hosts([]) == frozenset()


@pytest.mark.parametrize(
    "entry", ["", " ", "http://intranet", "intranet:8080", "a b", "-a.example", "a..b", "[x]"]
)
def test_entries_that_are_not_hosts_are_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError) as caught:
        private_hosts(["intranet", entry])
    assert str(caught.value) == f"{entry!r} is not a host name or an IP address"


def test_credentials_in_a_mistaken_entry_are_not_repeated() -> None:
    with pytest.raises(ValueError) as caught:
        private_hosts(["http://user:s3cret@intranet/images"])
    assert str(caught.value) == "'...@intranet/images' is not a host name or an IP address"
