"""Benchmark the API client against the embedded API (real detector) behind the fault server.

    python -m bench.bench_client [--calls 1000] [--threads 32] [--jobs 20] [--job-seconds 1.0]

(a) `/oauth/token` requests made by one shared client for `--calls` detect calls from `--threads`
    threads (target: 1), counted by the server.
(b) The time between a job finishing on the server and `wait_for_job` returning, for jobs that
    finish exactly `--job-seconds` after `POST /detect` answered (the fault server holds them
    IN_PROGRESS until then and records that moment); median and p95 over `--jobs` jobs, run one
    after another (target: median <= 150 ms).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from bench.benchlib import MS, percentile
from bench.machine import machine
from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from bot.imageintelligence.errors import ImageIntelligenceError
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, faulty_api


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def token_requests(calls: int, threads: int) -> tuple[int, int, list[str], float, list[float]]:
    """(token requests, detect requests seen by the server, errors, seconds, call latencies)."""
    image = [blob_image(tiny_png())]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    # The store must hold every job: most are still queued for the detector when the run ends.
    with faulty_api(max_jobs=calls + 100) as api:
        with ImageIntelligenceClient(
            CLIENT_ID, CLIENT_SECRET, api.base_url, pool_size=threads
        ) as client:

            def one(_: int) -> None:
                started = time.perf_counter()
                try:
                    client.detect(image, ["cat"])
                except ImageIntelligenceError as exc:
                    with lock:
                        errors.append(str(exc))
                    return
                with lock:
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(one, range(calls)))
            elapsed = time.perf_counter() - started
        return api.count("POST /oauth/token"), api.count("POST /detect"), errors, elapsed, latencies


def wait_latencies(jobs: int, job_seconds: float) -> list[float]:
    """Seconds from each job's finish (on the server) to wait_for_job returning."""
    image = [blob_image(tiny_png())]
    lags: list[float] = []
    with faulty_api() as api:
        api.finish_after(job_seconds)
        with ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url) as client:
            client.access_token()
            for _ in range(jobs):
                job = client.detect(image, ["cat"])
                done = client.wait_for_job(job, timeout=job_seconds + 10)
                returned = time.monotonic()  # the fault server's clock too
                if not done.finished:
                    raise RuntimeError("wait_for_job returned an unfinished job")
                lags.append(returned - api.finish_times[job.id])
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--job-seconds", type=float, default=1.0)
    args = parser.parse_args()

    tokens, detects, errors, elapsed, latencies = token_requests(args.calls, args.threads)
    lags = wait_latencies(args.jobs, args.job_seconds)
    print(f"Machine: {machine()}\n")
    print("| Measure | Result | Target |")
    print("|---|---|---|")
    print(
        f"| `/oauth/token` requests for {args.calls:,} `detect` calls from {args.threads} "
        f"threads | {tokens} | 1 |"
    )
    print(
        f"| `POST /detect` requests the server saw / calls made | {detects:,} / {args.calls:,} "
        "| equal |"
    )
    print(f"| Failed `detect` calls | {len(errors)} | 0 |")
    print(
        f"| `detect` call latency, median / p95 ({args.calls / elapsed:,.0f} calls/s) "
        f"| {statistics.median(latencies) * MS:.1f} / {percentile(latencies, 95) * MS:.1f} ms | - |"
    )
    print(
        f"| Job finished -> `wait_for_job` returned, {args.job_seconds:g} s jobs, median "
        f"(over {args.jobs}) | {statistics.median(lags) * MS:.0f} ms | <= 150 ms |"
    )
    print(f"| Same, p95 | {percentile(lags, 95) * MS:.0f} ms | - |")
    print(f"| Same, max | {max(lags) * MS:.0f} ms | - |")
    for message, count in Counter(errors).most_common():
        print(f"\n{count} x {message}")


if __name__ == "__main__":
    main()
