"""bot.net.fetch over TLS, against an HTTPS server on loopback with a test CA's certificate: the
connection goes to the address checked, with the URL's name as SNI, in the Host header and as the
name the certificate must have."""

from __future__ import annotations

import http.server
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
import trustme

from bot.net.fetch import Fetcher, FetchError
from tests.support.dns import Dns
from tests.support.photos import photo

PHOTO = photo("chelsea.png")


class TlsOrigin:
    """An HTTPS server on 127.0.0.1 with a certificate for `name`; records the SNI and Host."""

    def __init__(self, ca: trustme.CA, name: str) -> None:
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        context.sni_callback = lambda sock, server_name, ctx: self.server_names.append(server_name)
        hosts = self.hosts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", str(len(PHOTO)))
                self.end_headers()
                self.wfile.write(PHOTO)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def test_tls_goes_to_the_checked_address_with_the_name_as_sni_host_and_certificate(
    ca_file: tuple[trustme.CA, Path],
) -> None:
    ca, path = ca_file
    origin = TlsOrigin(ca, "images.test")
    try:
        dns = Dns({"images.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
        fetcher = Fetcher(
            private_hosts=["images.test", "other.test"], resolve=dns.resolve, ca_certs=str(path)
        )
        assert (
            fetcher.fetch(f"https://images.test:{origin.port}/photo", max_bytes=10**6, timeout=5)
            == PHOTO
        )
        assert origin.server_names == ["images.test"]
        assert origin.hosts == [f"images.test:{origin.port}"]
        # The certificate is checked against the name in the URL, not the address connected to.
        with pytest.raises(FetchError, match=r"no secure \(TLS\) connection to other\.test"):
            fetcher.fetch(f"https://other.test:{origin.port}/photo", max_bytes=10**6, timeout=5)
        assert origin.hosts == [f"images.test:{origin.port}"]
    finally:
        origin.close()
