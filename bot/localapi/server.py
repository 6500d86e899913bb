"""The embedded Image Intelligence API v2 as a WSGI app (Falcon), backed by the CPU detector.

Routes, below /v2 as in the spec: POST /oauth/token, POST /detect, GET /detect (search),
GET /detect/{id}, POST /feedback. Errors are JSON: `{"error": {"code", "message", "field"?}}`
(errors.py). POST /detect answers at once with the job IN_PROGRESS; `work` runs its images.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import falcon
from dramatiq.brokers.redis import RedisBroker
from falcon.stream import BoundedStream

from bot.localapi.analysis import Analyser
from bot.localapi.bodies import (
    parse_credentials,
    parse_detect_request,
    parse_feedback_request,
    parse_search_query,
)
from bot.localapi.detector import Detector
from bot.localapi.errors import ApiError, BadRequest, serialize
from bot.localapi.jobs import ApiJob, JobStore, MemoryJobStore
from bot.localapi.shared import DramatiqImages, RedisJobStore
from bot.localapi.tokens import TokenAuthority
from bot.localapi.work import ImageWork, ThreadedImages
from bot.net.fetch import Fetcher
from bot.vocabulary import DEFAULT_DETAIL

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20_000_000
# A body left unread by an error answer is read and dropped, up to this much, after the answer
# is sent: a server that closes a socket with unread input resets the connection, and the
# client may lose the answer. Beyond this, dropping the connection is cheaper than reading.
_DRAIN_LIMIT = 1 << 20


def _authorized(req: falcon.Request, resp: falcon.Response, resource: Any, params: Any) -> None:
    resource.tokens.check(req.get_header("Authorization"))


class _Routes:
    """The spec's operations; Falcon maps `on_<method>_<suffix>` to the routes of create_app."""

    def __init__(
        self,
        tokens: TokenAuthority,
        store: JobStore,
        work: ImageWork,
        *,
        max_body_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        self.tokens = tokens
        self._store = store
        self._work = work
        self._max_body_bytes = max_body_bytes
        self._clock = clock

    def on_post_token(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.tokens.issue(parse_credentials(self._json(req)))

    @falcon.before(_authorized)
    def on_post_detect(self, req: falcon.Request, resp: falcon.Response) -> None:
        detect = parse_detect_request(self._json(req))
        job = ApiJob.new(detect, created_at=int(self._clock() * 1000))
        resp.media = self._store.add(job, detect.images)
        try:
            self._work.start(job, detect.images)
        except ApiError:
            self._store.remove(job.id)
            raise

    @falcon.before(_authorized)
    def on_get_detect(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._store.search(parse_search_query(req.query_string))

    @falcon.before(_authorized)
    def on_get_job(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = self._store.get(job_id)
        if job is None:
            raise ApiError(404, "not_found", "id: no detect job with this id", field="id")
        resp.media = job

    @falcon.before(_authorized)
    def on_post_feedback(self, req: falcon.Request, resp: falcon.Response) -> None:
        feedback = parse_feedback_request(self._json(req))
        if not self._store.exists(feedback.job_id):
            raise ApiError(404, "not_found", "jobId: no detect job with this id", field="jobId")
        resp.media = {
            "id": str(uuid.uuid4()),
            "jobId": feedback.job_id,
            "createdAt": feedback.created_at,
            "classes": [{"class": name, "code": code} for name, code in feedback.classes],
        }

    def _json(self, req: falcon.Request) -> Any:
        """The request's JSON body, read only once its headers say it is JSON within the cap."""
        raw = (req.get_header("Content-Length") or "").strip()
        if raw and not raw.isdigit():
            raise ApiError(
                400, "bad_request", "Content-Length: not a number", field="Content-Length"
            )
        length = int(raw) if raw else None
        # Only a server that ends the input itself (gunicorn, for chunked bodies) can be read
        # without a length; a raw socket would block until the client hangs up.
        if length is None and not req.env.get("wsgi.input_terminated"):
            raise ApiError(411, "length_required", "Content-Length is required")
        if length is not None and length > self._max_body_bytes:
            raise self._too_large()
        # wsgiref reports a missing Content-Type as text/plain, gunicorn as nothing.
        media_type = (req.content_type or "").partition(";")[0].strip()
        if media_type.lower() != "application/json":
            came = f"as {media_type[:100]}" if media_type else "with no Content-Type"
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the body must be JSON, sent as application/json; this one came {came}",
            )
        data = req.stream.read(self._max_body_bytes + 1 if length is None else length)
        if length is None and len(data) > self._max_body_bytes:
            raise self._too_large()
        if length is not None and len(data) != length:
            raise BadRequest("body", "shorter than its Content-Length")
        try:
            return json.loads(data, parse_constant=_reject_constant)
        # ValueError covers UnicodeDecodeError; RecursionError is what very deep nesting raises.
        except (ValueError, RecursionError):
            raise BadRequest("body", "not valid JSON") from None

    def _too_large(self) -> ApiError:
        message = f"the body is larger than {self._max_body_bytes} bytes"
        return ApiError(413, "payload_too_large", message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _RequestLog:
    """Falcon middleware: every answer is `no-store`, and logged at DEBUG with its time."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.monotonic()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        resp.set_header("Cache-Control", "no-store")
        took = (time.monotonic() - req.context.started) * 1000
        logger.debug("%s %s -> %d in %.1f ms", req.method, req.path, resp.status_code, took)


def _internal_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    logger.error("internal error on %s %s", req.method, req.path, exc_info=ex)
    raise ApiError(500, "internal_error", "internal server error")


class _Drained:
    """A response body whose close() (called by the WSGI server once it is sent) then reads what
    the app left unread of the request body, so a client that waits for the answer before
    sending its body is not kept waiting."""

    def __init__(self, body: Iterable[bytes], unread: BoundedStream | None) -> None:
        self._body = body
        self._unread = unread

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        if self._unread is None:
            return
        left = _DRAIN_LIMIT
        try:
            while left > 0 and (chunk := self._unread.read(min(left, 65536))):
                left -= len(chunk)
        except OSError:  # the client went away
            return


class LocalApi:
    """The WSGI app. Build it with `create_app`; `close()` stops running images."""

    def __init__(
        self, app: falcon.App, work: ImageWork, analyser: Analyser, store: JobStore
    ) -> None:
        self._app = app
        self._work = work
        self._analyser = analyser
        self._store = store

    def __repr__(self) -> str:
        return f"LocalApi(work={type(self._work).__name__})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        unread = None
        if length.isdigit():
            environ["wsgi.input"] = unread = BoundedStream(environ["wsgi.input"], int(length))
        # Falcon types start_response narrower than PEP 3333 (no exc_info); it is the same call.
        return _Drained(self._app(environ, start_response), unread)  # type: ignore[arg-type]

    def forget_feed(self, feed_id: str) -> int:
        """Delete every job of the feed; how many there were."""
        return self._store.forget_feed(feed_id)

    def close(self) -> None:
        """No new job is taken; queued images are dropped (or, on Redis, left to other
        processes), running ones finish."""
        self._work.close()
        self._analyser.close()


def create_app(
    client_id: str,
    client_secret: str,
    *,
    detector: Detector | None = None,
    detail: str = DEFAULT_DETAIL,
    workers: int = 2,
    max_jobs: int = 1000,
    max_body_bytes: int = 64 * 1024 * 1024,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    url_timeout: float = 10.0,
    private_urls: bool = False,
    allowed_private_hosts: Collection[str] = (),
    clock: Callable[[], float] = time.time,
    broker: RedisBroker | None = None,
) -> LocalApi:
    """The embedded API for one client id/secret pair.

    Without `broker`, jobs are kept in this process (the newest `max_jobs`) and their images run
    on `workers` threads. With a Redis `broker` (the bot's), jobs are kept in its Redis under its
    namespace, where the embedded API of every process using it finds them, and each image is a
    message on it, run on `workers` threads of whichever of those processes takes it (shared.py).

    `detector=None` uses the process's shared detector (loaded on the first image); `detail` is how
    closely it looks (`vocabulary.DETAILS`). `clock` gives
    UNIX seconds: token times and job `createdAt` come from it, so tests can move time.

    `url` images are fetched by this process, for whoever can call the API (through the bot, any
    Slack user), through bot.net.fetch: with `private_urls=False` (the default) URLs pointing at
    loopback, private or link-local addresses are refused, so nobody can use the API to reach
    services on its own network (server-side request forgery), such as cloud metadata at
    169.254.169.254. True is for tests and trusted callers that serve images from such addresses.
    `allowed_private_hosts` names the exceptions: host names or IP addresses (a company's
    intranet image server) whose URLs are fetched although they point at such addresses; every
    redirect is still checked. Raises ValueError for an entry that is neither. Each link is
    fetched within `url_timeout`, and all of a job's by analysis.JOB_FETCH_SECONDS after it was
    created; a link that fails says no more than that (analysis.NOT_FETCHED).

    `max_image_bytes` caps each image, downloaded or sent as a blob (after base64 decoding); a
    larger one fails alone, saying so.
    """
    analyser = Analyser(
        detector=detector,
        detail=detail,
        max_image_bytes=max_image_bytes,
        url_timeout=url_timeout,
        fetcher=Fetcher(private_hosts=allowed_private_hosts, private_urls=private_urls),
        clock=clock,
    )
    store: JobStore
    work: ImageWork
    if broker is None:
        store = MemoryJobStore(max_jobs)
        work = ThreadedImages(analyser, store, workers)
    else:
        shared = RedisJobStore(broker.client, prefix=broker.namespace)
        store, work = shared, DramatiqImages(analyser, shared, broker, workers)
    routes = _Routes(
        TokenAuthority(client_id, client_secret, clock),
        store,
        work,
        max_body_bytes=max_body_bytes,
        clock=clock,
    )
    app = falcon.App(middleware=[_RequestLog()])
    app.add_route("/v2/oauth/token", routes, suffix="token")
    app.add_route("/v2/detect", routes, suffix="detect")
    app.add_route("/v2/detect/{job_id}", routes, suffix="job")
    app.add_route("/v2/feedback", routes, suffix="feedback")
    app.set_error_serializer(serialize)
    app.add_error_handler(Exception, _internal_error)
    return LocalApi(app, work, analyser, store)
