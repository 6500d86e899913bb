"""The embedded Image Intelligence API v2 as a plain WSGI app, backed by the CPU detector.

Routes: POST /v2/oauth/token, POST /v2/detect, GET /v2/detect/{id}, GET /v2/detect (search),
POST /v2/feedback. Errors are JSON: `{"error": {"code", "message", "field"?}}`. Jobs run on a
bounded thread pool; POST /v2/detect answers at once with the job IN_PROGRESS.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests

from bot.imageintelligence.contract import (
    IMAGE_DETECTION_ENGINE_ERROR,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_OK,
    IMAGE_UNKNOWN_ERROR,
    JOB_IN_PROGRESS,
)
from bot.images.decode import InvalidImage, decode_image
from bot.localapi.detector import Detector, get_detector
from bot.localapi.errors import BadRequest, HttpError
from bot.localapi.jobs import (
    Job,
    JobStore,
    MemoryJobStore,
    describe,
)
from bot.localapi.tokens import TokenAuthority
from bot.localapi.validation import (
    ImageInput,
    parse_credentials,
    parse_detect_request,
    parse_feedback_request,
    parse_search_query,
)
from bot.net.fetch import DownloadError, download, too_large
from bot.net.hosts import private_hosts
from bot.vocabulary import DEFAULT_DETAIL, labels_needed

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

# A body left unread by an error answer is read and dropped, up to this much, after the answer
# is sent: a server that closes a socket with unread input resets the connection, and the
# client may lose the answer. Beyond this, dropping the connection is cheaper than reading.
_DRAIN_LIMIT = 1 << 20
MAX_IMAGE_BYTES = 20_000_000
_JOB_PATH = re.compile(r"/v2/detect/([^/]+)")
_PUBLIC_PATHS = frozenset({"/v2/oauth/token"})

Handler = Callable[..., Any]


class _Request:
    def __init__(self, environ: WSGIEnvironment, max_body_bytes: int) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO") or "/")
        self._max_body_bytes = max_body_bytes
        self._body_read = False

    def json(self) -> Any:
        data = self._read_body()
        try:
            return json.loads(data, parse_constant=_reject_constant)
        # ValueError covers UnicodeDecodeError; RecursionError is what very deep nesting raises.
        except (ValueError, RecursionError):
            raise BadRequest("body", "not valid JSON") from None

    def _content_length(self) -> int | None:
        raw = str(self.environ.get("CONTENT_LENGTH") or "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise HttpError(
                400, "bad_request", "Content-Length: not a number", field="Content-Length"
            )
        return int(raw)

    def _read_body(self) -> bytes:
        stream = self.environ["wsgi.input"]
        length = self._content_length()
        # Only a server that ends the input itself (gunicorn, for chunked bodies) can be read
        # without a length; a raw socket would block until the client hangs up.
        if length is None and not self.environ.get("wsgi.input_terminated"):
            raise HttpError(411, "length_required", "Content-Length is required")
        if length is not None and length > self._max_body_bytes:
            raise self._too_large()
        self._require_json()
        self._body_read = True
        if length is None:
            data = stream.read(self._max_body_bytes + 1)
            if len(data) > self._max_body_bytes:
                raise self._too_large()
            return bytes(data)
        data = stream.read(length)
        if len(data) != length:
            raise BadRequest("body", "shorter than its Content-Length")
        return bytes(data)

    def _require_json(self) -> None:
        # wsgiref reports a missing Content-Type as text/plain, gunicorn as nothing.
        media_type = str(self.environ.get("CONTENT_TYPE") or "").partition(";")[0].strip()
        if media_type.lower() != "application/json":
            came = f"as {media_type[:100]}" if media_type else "with no Content-Type"
            raise HttpError(
                415,
                "unsupported_media_type",
                f"the body must be JSON, sent as application/json; this one came {came}",
            )

    def _too_large(self) -> HttpError:
        return HttpError(
            413, "payload_too_large", f"the body is larger than {self._max_body_bytes} bytes"
        )

    def drain(self) -> None:
        """Read and drop a body nobody read (see _DRAIN_LIMIT); stops early at end of input."""
        if self._body_read:
            return
        try:
            remaining = min(self._content_length() or 0, _DRAIN_LIMIT)
        except HttpError:
            return
        stream = self.environ["wsgi.input"]
        while remaining > 0:
            chunk = stream.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)


class _Answer:
    """The response body; WSGI servers call close() once it is sent, and that drains the request
    then, so a client that waits for the answer before sending its body is not kept waiting."""

    def __init__(self, payload: bytes, request: _Request) -> None:
        self._payload = payload
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        yield self._payload

    def close(self) -> None:
        self._request.drain()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class LocalApi:
    """The WSGI app. Build it with `create_app`; `close()` stops its workers."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        detector: Detector | None,
        detail: str,
        workers: int,
        store: JobStore,
        max_body_bytes: int,
        max_image_bytes: int,
        url_timeout: float,
        private_urls: bool,
        allowed_private_hosts: frozenset[str],
        clock: Callable[[], float],
    ) -> None:
        self._tokens = TokenAuthority(client_id, client_secret, clock)
        self._store = store
        # The detector loads on first use, in the process that serves: gunicorn forks after
        # the app is built, and a model runtime's threads do not survive a fork.
        self._detector = detector
        self._detail = detail
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localapi-detect")
        self._session = requests.Session()
        self._max_body_bytes = max_body_bytes
        self._max_image_bytes = max_image_bytes
        self._url_timeout = url_timeout
        self._private_urls = private_urls
        self._allowed_private_hosts = allowed_private_hosts
        self._clock = clock
        self._routes: dict[str, dict[str, Handler]] = {
            "/v2/oauth/token": {"POST": self._token},
            "/v2/detect": {"POST": self._detect, "GET": self._search},
            "/v2/feedback": {"POST": self._feedback},
        }
        self._job_routes: dict[str, Handler] = {"GET": self._get_job}

    def __repr__(self) -> str:
        return f"LocalApi(workers={self._workers})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = _Request(environ, self._max_body_bytes)
        headers: list[tuple[str, str]] = []
        try:
            status, body = 200, self._handle(request)
        except HttpError as exc:
            status, body, headers = exc.status, exc.body(), list(exc.headers)
        except Exception:
            logger.exception("internal error on %s %s", request.method, request.path)
            error = HttpError(500, "internal_error", "internal server error")
            status, body = error.status, error.body()
        payload = json.dumps(body, separators=(",", ":")).encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )
        logger.debug(
            "%s %s -> %d in %.1f ms",
            request.method,
            request.path,
            status,
            (time.monotonic() - started) * 1000,
        )
        return _Answer(payload, request)

    def close(self) -> None:
        """Stop the workers: queued images are dropped, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()
        self._store.close()

    def _handle(self, request: _Request) -> Any:
        args: tuple[str, ...] = ()
        handlers = self._routes.get(request.path)
        if handlers is None and (match := _JOB_PATH.fullmatch(request.path)):
            handlers, args = self._job_routes, (match.group(1),)
        if handlers is None:
            raise HttpError(404, "not_found", f"no such endpoint: {request.path[:200]}")
        handler = handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(handlers)
            raise HttpError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed}",
                headers=[("Allow", allowed)],
            )
        if request.path not in _PUBLIC_PATHS:
            self._tokens.check(request.environ.get("HTTP_AUTHORIZATION"))
        return handler(request, *args)

    def _token(self, request: _Request) -> Any:
        return self._tokens.issue(parse_credentials(request.json()))

    def _detect(self, request: _Request) -> Any:
        detect = parse_detect_request(request.json())
        job = Job.new(detect, created_at=int(self._clock() * 1000))
        answer = self._store.add(job, detect.images)
        try:
            for index, image in enumerate(detect.images):
                self._pool.submit(self._run_image, job, index, image)
        except RuntimeError:  # the pool is shut down: close() was called
            self._store.remove(job)
            raise HttpError(503, "unavailable", "the API is shutting down") from None
        return answer

    def _get_job(self, request: _Request, job_id: str) -> Any:
        job = self._store.get(job_id)
        orphaned = (
            None
            if job is None or job["status"] != JOB_IN_PROGRESS
            else self._store.orphaned(job_id)
        )
        if orphaned is not None:
            for index, image in orphaned[1]:
                self._pool.submit(self._run_image, orphaned[0], index, image)
        if job is None:
            raise HttpError(404, "not_found", "id: no detect job with this id", field="id")
        return job

    def _search(self, request: _Request) -> Any:
        return self._store.search(parse_search_query(str(request.environ.get("QUERY_STRING", ""))))

    def _feedback(self, request: _Request) -> Any:
        feedback = parse_feedback_request(request.json())
        if not self._store.exists(feedback.job_id):
            raise HttpError(404, "not_found", "jobId: no detect job with this id", field="jobId")
        return {
            "id": str(uuid.uuid4()),
            "jobId": feedback.job_id,
            "createdAt": feedback.created_at,
            "classes": [{"class": name, "code": code} for name, code in feedback.classes],
        }

    def _run_image(self, job: Job, index: int, image: ImageInput) -> None:
        try:
            status, objects, error = self._analyse(job.classes, image)
        except Exception:
            logger.exception("unexpected error on image %d of job %s", index, job.id)
            status, objects, error = IMAGE_UNKNOWN_ERROR, [], "unexpected error"
        self._store.finish_image(job, index, status, objects, error)

    def _analyse(
        self, classes: tuple[str, ...], image: ImageInput
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        try:
            data = image.source
            if isinstance(data, str):
                data = download(
                    self._session,
                    data,
                    max_bytes=self._max_image_bytes,
                    timeout=self._url_timeout,
                    private_urls=self._private_urls,
                    allowed_private_hosts=self._allowed_private_hosts,
                )
            elif len(data) > self._max_image_bytes:
                raise InvalidImage(too_large(self._max_image_bytes))
            picture = decode_image(data)
        except DownloadError as exc:
            return IMAGE_DOWNLOAD_ERROR, [], str(exc)
        except InvalidImage as exc:
            return IMAGE_FORMAT_ERROR, [], str(exc)
        try:
            detector = self._detector or get_detector()
            detections = detector.detect(picture, labels_needed(classes), detail=self._detail)
        except Exception:
            logger.exception("the detector failed")
            return IMAGE_DETECTION_ENGINE_ERROR, [], "the detector failed"
        return IMAGE_OK, describe(detections, classes), None


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
    store: JobStore | None = None,
) -> LocalApi:
    """The embedded API for one client id/secret pair.

    Jobs are kept in `store`: by default in this process, the newest `max_jobs` of them;
    `redisjobs.RedisJobStore` shares them with the embedded API of other processes.

    `detector=None` uses the process's shared detector (loaded on the first image); `detail` is
    its `detect`'s (`detector.DETAILS`). `clock` gives
    UNIX seconds: token times and job `createdAt` come from it, so tests can move time.

    `url` images are fetched by this process, for whoever can call the API (through the bot, any
    Slack user): with `private_urls=False` (the default) URLs pointing at loopback, private or
    link-local addresses are refused, so nobody can use the API to reach services on its own
    network (server-side request forgery), such as cloud metadata at 169.254.169.254. True is
    for tests and trusted callers that serve images from such addresses.
    `allowed_private_hosts` names the exceptions: host names or IP addresses (a company's
    intranet image server) whose URLs are fetched although they point at such addresses; every
    redirect is still checked. Raises ValueError for an entry that is neither.

    `max_image_bytes` caps each image, downloaded or sent as a blob (after base64 decoding); a
    larger one fails alone, saying so.
    """
    return LocalApi(
        client_id,
        client_secret,
        detector=detector,
        detail=detail,
        workers=workers,
        store=MemoryJobStore(max_jobs) if store is None else store,
        max_body_bytes=max_body_bytes,
        max_image_bytes=max_image_bytes,
        url_timeout=url_timeout,
        private_urls=private_urls,
        allowed_private_hosts=private_hosts(allowed_private_hosts),
        clock=clock,
    )
