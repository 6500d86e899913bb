"""Running the embedded API: `start_local_api()` runs it in this process on a free loopback port
(what the bot and the CLI do when no hosted account is configured); `serve()` runs it on its own
under gunicorn.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from contextlib import closing
from types import TracebackType

from dramatiq.brokers.redis import RedisBroker

from bot.httpserver import ServerThread, run_gunicorn
from bot.localapi.server import MAX_IMAGE_BYTES, LocalApi, create_app
from bot.net.hosts import private_hosts
from bot.vocabulary import DEFAULT_DETAIL


def generate_credentials() -> tuple[str, str]:
    """A fresh (client id, client secret) pair."""
    return f"local-{secrets.token_hex(8)}", secrets.token_urlsafe(32)


def _fill_in(client_id: str | None, client_secret: str | None) -> tuple[str, str]:
    generated_id, generated_secret = generate_credentials()
    return (
        generated_id if client_id is None else client_id,
        generated_secret if client_secret is None else client_secret,
    )


class RunningLocalApi:
    """The embedded API serving from a background thread; `stop()` (or leaving `with`) ends it."""

    def __init__(self, server: ServerThread, app: LocalApi, client_id: str, client_secret: str):
        self._server = server
        self._app = app
        self.base_url = f"{server.url}/v2"
        self.client_id = client_id
        self.client_secret = client_secret

    def __repr__(self) -> str:
        return f"RunningLocalApi(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def forget_feed(self, feed_id: str) -> int:
        """Delete every job of the feed (`LocalApi.forget_feed`)."""
        return self._app.forget_feed(feed_id)

    def stop(self) -> None:
        self._server.stop()
        self._app.close()

    def __enter__(self) -> RunningLocalApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_api(
    client_id: str | None = None,
    client_secret: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    workers: int = 2,
    private_urls: bool = False,
    allowed_private_hosts: Collection[str] = (),
    max_image_bytes: int = MAX_IMAGE_BYTES,
    broker: RedisBroker | None = None,
    detail: str = DEFAULT_DETAIL,
) -> RunningLocalApi:
    """Start the embedded API in this process; credentials left as None are generated.
    `workers`, `max_image_bytes`, `broker` (the Redis one of worker processes) and `detail` are
    `create_app`'s.

    The bot relays `/detect` URLs from Slack users to this API, which fetches them from the
    bot's own process: keep `private_urls=False` so that those URLs cannot reach loopback,
    private or link-local addresses (server-side request forgery through the bot), except on
    the `allowed_private_hosts` (host names or IP addresses, e.g. an intranet image server).
    Raises ValueError for an entry of those that is neither.
    """
    client_id, client_secret = _fill_in(client_id, client_secret)
    app = create_app(
        client_id,
        client_secret,
        workers=workers,
        private_urls=private_urls,
        allowed_private_hosts=allowed_private_hosts,
        max_image_bytes=max_image_bytes,
        broker=broker,
        detail=detail,
    )
    try:
        server = ServerThread(app, host=host, port=port).start()
    except BaseException:
        app.close()
        raise
    return RunningLocalApi(server, app, client_id, client_secret)


def serve(
    host: str,
    port: int,
    client_id: str | None = None,
    client_secret: str | None = None,
    workers: int = 2,
    private_urls: bool = False,
    allowed_private_hosts: Collection[str] = (),
    detail: str = DEFAULT_DETAIL,
) -> None:
    """Serve the embedded API under gunicorn on host:port until SIGTERM/SIGINT (main thread only).

    Credentials left as None are generated and printed to stdout, once, as the settings a bot
    needs to use this server. Bind 127.0.0.1 unless the API must be reached from elsewhere: it
    speaks plain HTTP. `private_urls=False` refuses `url` images on loopback, private or
    link-local addresses, so API callers cannot make the server probe its own network (SSRF),
    except on the `allowed_private_hosts` (host names or IP addresses). Raises ValueError, before
    anything is printed or served, for an entry of those that is neither.
    """
    allowed = private_hosts(allowed_private_hosts)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(f"II_API_URL=http://{address}/v2", flush=True)
    generated = client_id is None or client_secret is None
    client_id, client_secret = _fill_in(client_id, client_secret)
    if generated:
        print(f"II_CLIENT_ID={client_id}\nII_CLIENT_SECRET={client_secret}", flush=True)
    run_gunicorn(
        lambda: closing(
            create_app(
                client_id,
                client_secret,
                workers=workers,
                private_urls=private_urls,
                allowed_private_hosts=allowed,
                detail=detail,
            )
        ),
        bind=address,
        threads=8,
    )
