"""`python -m bot`: run the Slack app, try detection from a terminal, check the set-up, serve the API.

Exit codes: 0 success, 1 the API or Slack failed (or `detect` could not read some image), 2 usage or
configuration errors. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from PIL import Image

from bot import blocks
from bot.blocks.results import ImageOutcome, counts
from bot.check import check, not_ready
from bot.config import ConfigError, Settings, load_settings
from bot.imageintelligence.client import blob_image, url_image
from bot.imageintelligence.contract import MAX_IMAGES_PER_JOB, MAX_URL_LENGTH, VERIFY_MODES
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.imageintelligence.models import DetectJob
from bot.images.decode import InvalidImage, decode_image
from bot.logs import set_up_logging
from bot.process.runtime import open_api
from bot.process.socket_mode import run_socket_mode
from bot.process.web import run_http
from bot.process.worker import run_worker
from bot.vocabulary import NEEDS_EMBEDDED, everything, for_api, parse_classes

logger = logging.getLogger("bot")


class UsageError(Exception):
    """Bad command-line input: exit 2 with this message."""


class Unreadable(Exception):
    """An image `detect` cannot send the API; the others still go."""


def main(argv: Sequence[str] | None = None) -> int:
    # Pillow only warns, in two lines on stderr, about an image over its own pixel limit; as an
    # error, decode_image refuses it like any image over the bot's smaller one.
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as problem:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    # A terminal command prints its answer; only the servers log at the configured level. check's
    # lines name every failure, which slack_sdk would log again for each of its tries.
    if args.command in ("run", "worker", "api"):
        level = settings.log_level
    else:
        level = "CRITICAL" if args.command == "check" else "WARNING"
    set_up_logging(level, settings)
    try:
        return int(args.handler(args, settings))
    except UsageError as problem:
        print(f"{parser.prog} {args.command}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # Whatever went wrong, the user gets one line; the traceback is for LOG_LEVEL=DEBUG.
        logger.debug("unexpected error", exc_info=True)
        print(
            f"{parser.prog} {args.command}: unexpected error ({type(error).__name__})",
            file=sys.stderr,
        )
        return 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage first; errors here are one line, and the usage is a -h away.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description="The Image Intelligence Slack bot.")
    parser.set_defaults(handler=run, command="run", http=False, socket_mode=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", help="run the Slack app (default; Socket Mode if SLACK_APP_TOKEN is set, else HTTP)"
    )
    transport = run_parser.add_mutually_exclusive_group()
    transport.add_argument("--http", action="store_true", help="serve HTTP on $PORT (uvicorn)")
    transport.add_argument("--socket-mode", action="store_true", help="connect over Socket Mode")
    run_parser.set_defaults(handler=run, command="run")

    detect_parser = commands.add_parser("detect", help="say what is in images, with no Slack")
    detect_parser.add_argument("images", nargs="+", metavar="IMAGE", help="a file or http(s) URL")
    detect_parser.add_argument("--classes", help="comma-separated, e.g. person,car")
    detect_parser.add_argument(
        "--verify", type=str.upper, choices=VERIFY_MODES, help="human verification mode"
    )
    detect_parser.add_argument("--json", action="store_true", help="print the API's JSON")
    detect_parser.set_defaults(handler=detect, command="detect")

    worker_parser = commands.add_parser(
        "worker", help="run the jobs the web processes queue on Redis (needs REDIS_URL)"
    )
    worker_parser.set_defaults(handler=worker, command="worker")

    check_parser = commands.add_parser("check", help="is the configuration sound and reachable?")
    check_parser.set_defaults(handler=lambda _, settings: check(settings), command="check")

    api_parser = commands.add_parser("api", help="serve the embedded Image Intelligence API")
    api_parser.add_argument("--host", default="127.0.0.1")
    api_parser.add_argument("--port", type=int, default=8080)
    api_parser.set_defaults(handler=api, command="api")
    return parser


# -- detect ------------------------------------------------------------------------------------


def detect(args: argparse.Namespace, settings: Settings) -> int:
    """A line per image, in the order given (or `--json`); exit 1 when some could not be read."""
    classes = _classes(args.classes) if args.classes else settings.detect_classes
    if everything(classes) and not settings.uses_embedded_api:
        raise UsageError(f"--classes: {NEEDS_EMBEDDED}")
    verify = args.verify or settings.detect_verify
    if len(args.images) > MAX_IMAGES_PER_JOB:
        raise UsageError(f"{len(args.images)} images given; at most {MAX_IMAGES_PER_JOB} at a time")
    # Keyed by the image's place in the command line, which is its customId in the job.
    sent: dict[str, dict] = {}
    unreadable: dict[str, str] = {}
    for n, image in enumerate(args.images):
        try:
            sent[str(n)] = _image_item(image, str(n))
        except Unreadable as problem:
            unreadable[str(n)] = str(problem)
    job, failure = None, None
    if sent:
        try:
            with open_api(settings) as client:
                job = client.wait_for_job(
                    client.detect(list(sent.values()), list(for_api(classes)), verify=verify),
                    timeout=settings.detect_timeout,
                )
        except ImageIntelligenceError as error:
            failure = blocks.error_message(error, images=len(sent))["text"]
    results = {result.custom_id: result for result in job.images} if job else {}

    def outcome_of(key: str, name: str) -> ImageOutcome:
        if key in unreadable:
            return ImageOutcome(name, problem=unreadable[key])
        if key in results:
            return ImageOutcome(name, results[key])
        return ImageOutcome(name, problem=failure or "the API returned no result")

    outcomes = {str(n): outcome_of(str(n), name) for n, name in enumerate(args.images)}
    if args.json:
        print(json.dumps(_as_json(outcomes, job, classes), indent=2))
    else:
        for key, outcome in outcomes.items():
            if not (failure and key in sent):  # the one line below says it for those
                print(blocks.summary_line(outcome, classes))
    if failure:
        print(failure, file=sys.stderr)
    return 0 if all(o.result is not None and o.result.ok for o in outcomes.values()) else 1


def _as_json(
    outcomes: dict[str, ImageOutcome], job: DetectJob | None, classes: Sequence[str]
) -> dict[str, Any]:
    """Each image by the name given, with the API's result for it and how many of each class found
    were counted (null: the API gave no boxes), or why there is none; and the API's job (None when
    no image could be sent)."""
    raw = {item.get("customId"): item for item in job.raw.get("imageResults", [])} if job else {}
    return {
        "images": [
            {"image": outcome.name, "result": raw[key], "counts": counts(outcome.result, classes)}
            if key in raw and outcome.result is not None
            else {"image": outcome.name, "error": outcome.problem}
            for key, outcome in outcomes.items()
        ],
        "job": job.raw if job else None,
    }


def _classes(raw: str) -> tuple[str, ...]:
    try:
        return parse_classes(raw)
    except ValueError as problem:
        raise UsageError(f"--classes: {problem}") from None


def _image_item(image: str, custom_id: str) -> dict:
    """The API's request item for a file or http(s) URL; Unreadable says why there is none."""
    scheme = urlsplit(image).scheme.lower()
    if scheme in ("http", "https"):
        if len(image) > MAX_URL_LENGTH:
            raise Unreadable(f"URLs may have {MAX_URL_LENGTH} characters at most")
        return url_image(image, custom_id)
    if "://" in image:
        raise Unreadable("only http(s) URLs and files are supported")
    path = Path(image)
    if path.is_dir():
        raise Unreadable("a directory, not an image")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except OSError as error:
        raise Unreadable(f"cannot be read ({error.strerror})") from None
    try:
        decode_image(data)
    except InvalidImage as problem:
        raise Unreadable(str(problem)) from None
    return blob_image(data, custom_id)


# -- run ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    socket_mode = args.socket_mode or (settings.socket_mode and not args.http)
    problem = not_ready(settings, socket_mode=socket_mode)
    if problem:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    if socket_mode:
        run_socket_mode(settings)
    else:
        run_http(settings)
    return 0


def worker(args: argparse.Namespace, settings: Settings) -> int:
    problem: str | None
    if not settings.redis_url:
        problem = (
            "REDIS_URL is not set: a worker runs the jobs that web processes queue on Redis "
            "(redis://... or rediss://...); without Redis, `python -m bot run` does them itself"
        )
    else:
        problem = not_ready(settings, socket_mode=None)
    if problem:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    run_worker(settings)
    return 0


# -- api ---------------------------------------------------------------------------------------


def api(args: argparse.Namespace, settings: Settings) -> int:
    from bot.localapi.service import serve

    serve(
        args.host,
        args.port,
        settings.local_api_client_id,
        settings.local_api_client_secret,
        workers=settings.local_api_workers,
        allowed_private_hosts=settings.local_api_allow_private_hosts,
        detail=settings.detect_detail,
    )
    return 0
