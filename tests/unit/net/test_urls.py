"""bot.net.urls (the URL rule) and bot.net.hosts: what a URL to fetch may look like, checked on
examples and, with Hypothesis, on generated URLs against urllib3's own parser (which makes the
connection) and the standard library's (which the old check used)."""

from __future__ import annotations

from urllib.parse import urlsplit

import idna
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from bot.net.hosts import host_key, is_public, private_hosts
from bot.net.urls import DEFAULT_PORTS, BadUrl, Location, parse


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target", "host_header"),
    [
        ("http://example.com", "http", "example.com", 80, "/", "example.com"),
        (
            "HTTPS://Images.Example.COM:443/a.png?x=1#top",
            "https",
            "images.example.com",
            443,
            "/a.png?x=1",
            "images.example.com",
        ),
        (
            "http://example.com:8080/a/../b.png",
            "http",
            "example.com",
            8080,
            "/b.png",
            "example.com:8080",
        ),
        ("http://[::1]:99/x", "http", "::1", 99, "/x", "[::1]:99"),
        (
            "http://bücher.example/",
            "http",
            "xn--bcher-kva.example",
            80,
            "/",
            "xn--bcher-kva.example",
        ),
        ("http://xn--strae-oqa.test/", "http", "xn--strae-oqa.test", 80, "/", "xn--strae-oqa.test"),
        (
            "https://files.slack.com/a?b=@c",
            "https",
            "files.slack.com",
            443,
            "/a?b=@c",
            "files.slack.com",
        ),
        ("http://img_1.corp/x%20y", "http", "img_1.corp", 80, "/x%20y", "img_1.corp"),
    ],
)
def test_a_url_is_read_once_into_where_the_request_goes(
    url: str, scheme: str, host: str, port: int, target: str, host_header: str
) -> None:
    location = parse(url)
    assert (location.scheme, location.host, location.port, location.target) == (
        scheme,
        host,
        port,
        target,
    )
    assert location.host_header == host_header


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080\\@1.1.1.1/img", "backslash"),
        ("http://1.1.1.1\\@127.0.0.1/img", "backslash"),
        ("http://127.0.0.1:8080/\\@1.1.1.1/img", "backslash"),
        ("http://example.com/a\tb", "control character"),
        ("http://example.com/a b", "space"),
        ("http://exa\x00mple.com/", "control character"),
        ("http://example.com/\x85", "control character"),
        ("http://user:pass@example.com/", "user name or password"),
        ("http://1.1.1.1@127.0.0.1/", "user name or password"),
        ("http://127.0.0.1%2F@1.1.1.1/", "user name or password"),
        ("http://%61.com/", "percent sign"),
        ("http://[fe80::1%25eth0]/", "percent sign"),
        ("http://2130706433/", "not a host name or an IP address"),
        ("http://0x7f000001/", "not a host name or an IP address"),
        ("http://0177.0.0.1/", "not a host name or an IP address"),
        ("http://127.1/", "not a host name or an IP address"),
        ("http://-a.example/", "not a host name or an IP address"),
        ("http:///photo", "not a host name or an IP address"),
        ("http://straße.test/", "IDNA 2003 and 2008"),
        ("http://ς.test/", "IDNA 2003 and 2008"),
        (
            "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",
            "not a URL",
        ),  # fullwidth
        ("http://127。0。0。1/", "not a URL"),
        ("http://example.com:0/", "port 0"),
        ("http://example.com:65536/", "not a URL"),
        ("ftp://example.com/a.png", "not an http or https URL"),
        ("file:///etc/passwd", "not an http or https URL"),
        ("http:/example.com/", "not an absolute URL"),
        ("/relative/path", "not an absolute URL"),
    ],
)
def test_urls_parsers_read_differently_are_refused(url: str, reason: str) -> None:
    with pytest.raises(BadUrl, match=reason) as refused:
        parse(url)
    assert url not in str(refused.value)


def test_a_redirect_is_joined_to_the_url_it_came_from_and_read_by_the_same_rule() -> None:
    here = parse("http://images.example:8080/a/b.png?x=1")
    assert here.join("c.png").url == "http://images.example:8080/a/c.png"
    assert here.join("//other.example/d.png").host == "other.example"
    assert here.join("https://x.example/e").url == "https://x.example/e"
    # urljoin would drop the tab (urlsplit strips tabs and newlines) and read `http://...`.
    for reference in ("\\\\127.0.0.1/", "/\\127.0.0.1", "ht\ttp://127.0.0.1/"):
        with pytest.raises(BadUrl):
            here.join(reference)


@pytest.mark.parametrize(
    "address",
    ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1", "2002:101:101::1"],
)
def test_public_addresses(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (CGNAT)
        "192.0.2.1",  # documentation
        "224.0.0.1",  # multicast: "global" to ipaddress
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::7f00:1",  # IPv4-compatible: "global" to ipaddress
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1: "global" to ipaddress
        "fe80::1",
        "fec0::1",  # site-local: "global" to ipaddress
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
    ],
)
def test_addresses_that_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_private_hosts_are_normalised_as_urls_name_them() -> None:
    assert private_hosts(["Intranet.Example.", "[::1]", "0:0:0::1", " 10.0.0.5", "img_1.corp"]) == {
        "intranet.example",
        "::1",
        "10.0.0.5",
        "img_1.corp",
    }
    assert private_hosts([]) == frozenset()


@pytest.mark.parametrize(
    "entry",
    ["", " ", "http://intranet", "intranet:8080", "a b", "-a.example", "a..b", "[x]", "2130706433"],
)
def test_entries_that_are_not_hosts_are_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError) as caught:
        private_hosts(["intranet", entry])
    assert str(caught.value) == f"{entry!r} is not a host name or an IP address"


def test_credentials_in_a_mistaken_entry_are_not_repeated() -> None:
    with pytest.raises(ValueError) as caught:
        private_hosts(["http://user:s3cret@intranet/images"])
    assert str(caught.value) == "'...@intranet/images' is not a host name or an IP address"


# --- generated URLs ----------------------------------------------------------------------------

# Pieces that parsers are known to read differently, and ordinary ones, put where they confuse.
PIECES = [
    "127.0.0.1", "1.1.1.1", "localhost", "example.com", "[::1]", ":8080", ":0", ":", "@", "\\",
    "%5C", "%2e", "%40", "%61", "#", "?", "/", ".", "..", "\t", "\n", " ", "\x00", "\x85", "ß",
    "ẞ", "ς", "。", "\uff20", "\uff45", "ü", "\u200d", "0x7f", "user:pass@", "[", "]", "a",
]  # fmt: skip
HOSTS = [
    "127.0.0.1", "1.1.1.1", "localhost", "Example.COM", "a.test", "[::1]", "[::ffff:127.0.0.1]",
    "[FE80::1%25eth0]", "bücher.example", "BÜCHER.example", "straße.test", "ẞ.test", "ς.test",
    "xn--strae-oqa.test", "2130706433", "0x7f.1", "\uff45xample.com", "127。0。0。1", "%61.com",
    "user:pass@a.test", "a.test.", "-a.test", "a_b.test", "a..test", "",
]  # fmt: skip
piece = st.sampled_from(PIECES) | st.text(max_size=2)
host = st.sampled_from(HOSTS) | st.lists(piece, min_size=1, max_size=3).map("".join)
generated_urls = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(["http", "http", "https", "HTTP", "hTtPs", "ftp", ""]),
    st.sampled_from(["://", "://", "://", ":/", ":\\\\", ":///", "//"]),
    host,
    st.sampled_from(
        [
            "",
            "",
            "",
            ":8080",
            ":",
            ":0",
            ":65536",
            "\\@1.1.1.1",
            "%5C@1.1.1.1",
            "#@1.1.1.1",
            "?@1.1.1.1",
            "\t@1.1.1.1",
            "@1.1.1.1",
        ]
    ),
    st.sampled_from(["", "/", "/img", "?q", "#f"]),
    st.lists(piece, max_size=4).map("".join),
)


def assert_every_parser_agrees(url: str, location: Location) -> None:
    # urllib3, which opens the connection, goes where the rule says.
    connected = parse_url(url)
    assert (connected.scheme or "").lower() == location.scheme
    assert (connected.host or "").strip("[]") == location.host
    assert (connected.port or DEFAULT_PORTS[location.scheme]) == location.port
    assert connected.request_uri == location.target
    # The standard library (the old check) reads the same host, and so do IDNA 2003 (which
    # getaddrinfo applies to it) and UTS-46 (browsers, requests).
    stdlib = urlsplit(url)
    assert stdlib.username is None and stdlib.password is None
    assert stdlib.hostname is not None
    if stdlib.hostname.isascii():
        assert host_key(stdlib.hostname) == host_key(location.host)
    else:
        assert stdlib.hostname.encode("idna").decode() == location.host
        assert idna.encode(stdlib.hostname, uts46=True).decode() == location.host
    assert (stdlib.port or DEFAULT_PORTS[location.scheme]) == location.port
    assert not set(url) & {"\\", "\t", "\n", "\r", " ", "\x00"}


@settings(max_examples=400, deadline=None)
@given(generated_urls)
@example("http://127.0.0.1:8080\\@1.1.1.1/img")
@example("http://straße.test/")
@example("http://%61.com/")
def test_a_url_the_rule_takes_is_read_the_same_by_every_parser(url: str) -> None:
    try:
        location = parse(url)
    except BadUrl:
        return
    assert_every_parser_agrees(url, location)


@settings(max_examples=300, deadline=None)
@given(st.lists(piece, max_size=6).map("".join))
@example("\\\\127.0.0.1/")
@example("//127.0.0.1:8080\\@1.1.1.1/")
def test_a_redirect_the_rule_takes_is_read_the_same_by_every_parser(reference: str) -> None:
    try:
        joined = parse("http://images.example/a/b.png").join(reference)
    except BadUrl:
        return
    assert_every_parser_agrees(joined.url, joined)
