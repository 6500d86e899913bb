"""Benchmark the embedded detector: each model's load, CPU per image at 1024 px for the default
classes, one class per model and all classes, throughput, memory. Each model runs once over the
whole image (detail "fast"): what the looking closer of "thorough" costs and finds is
bench_detail.py's.

    python -m bench.bench_detector [--images 1000] [--threads 2]

Run it in a fresh process on an otherwise idle machine. "CPU ms" is process CPU time
(time.process_time: every thread, user + system) divided by the images; "wall ms" is elapsed time.
RSS is the process's resident set (VmRSS from /proc/self/status, Linux). A model's "first use" is
the wall time of the first call that needs it less the median of the same call once loaded:
reading the file, building the interpreter and the runtime's work on its first run.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from PIL import Image

from bench.machine import machine, packages
from bot.config import DEFAULT_CLASSES
from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from bot.images.decode import decode_image
from bot.localapi.detector import Detector
from bot.localapi.service import start_local_api
from bot.vocabulary import (
    ANSWERED_BY,
    BLAZEFACE,
    CLASS_NAMES,
    COCO,
    FAST,
    OIDV4,
    labels_needed,
)
from tests.support.photos import IMAGES

SIDE = 1024
# One class per model, and the call that loads it first.
FIRST_USE = ((COCO, ("cup",)), (BLAZEFACE, ("face",)), (OIDV4, ("camera",)))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def photos_at(side: int) -> list[Image.Image]:
    """The test photos scaled so that their longer side is ``side`` pixels."""
    images = []
    for path in sorted(IMAGES.glob("*.[jp][pn]g")):
        image = decode_image(path.read_bytes()).image
        scale = side / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        images.append(image.resize(size, Image.Resampling.BICUBIC))
    return images


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) spent by the whole process running ``work``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def in_threads(threads: int, count: int, job: Callable[[int], None]) -> None:
    """Run ``job(i)`` for i in range(count), spread over ``threads`` threads."""

    def worker(start: int) -> None:
        for i in range(start, count, threads):
            job(i)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def first_use_ms(detector: Detector, image: Image.Image, classes: Collection[str]) -> float:
    """Wall ms of the first call for ``classes`` beyond the median of the next five."""
    _, first = timed(lambda: detector.detect(image, classes, detail=FAST))
    again = [timed(lambda: detector.detect(image, classes, detail=FAST))[1] for _ in range(5)]
    return (first - statistics.median(again)) * 1000


def cpu_per_image(
    detector: Detector, images: list[Image.Image], classes: Collection[str], n: int
) -> str:
    """CPU and wall ms per image of ``n`` calls for ``classes`` from one caller, after a warm-up."""

    def detect(i: int) -> None:
        detector.detect(images[i % len(images)], classes, detail=FAST)

    for i in range(12):
        detect(i)
    cpu, wall = timed(lambda: in_threads(1, n, detect))
    return f"{cpu / n * 1000:.1f} ms CPU/image, {wall / n * 1000:.1f} ms wall/image"


def through_the_api(jpegs: list[bytes], workers: int, jobs: int, per_job: int) -> float:
    """Images per second through the embedded API (`workers` detector threads), over loopback
    HTTP with the real client: blobs in, jobs polled to the end, as the bot uses it."""
    items = [blob_image(jpegs[i % len(jpegs)], str(i)) for i in range(per_job)]
    with (
        start_local_api(workers=workers, detail=FAST) as api,
        ImageIntelligenceClient(api.client_id, api.client_secret, api.base_url) as client,
    ):

        def job(_: int) -> None:
            done = client.wait_for_job(client.detect(items, DEFAULT_CLASSES), timeout=120)
            assert all(image.ok for image in done.images)

        job(0)  # warm up: token, connections, interpreters
        _, wall = timed(lambda: in_threads(workers, jobs, job))
    return jobs * per_job / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="images for the memory run")
    parser.add_argument("--threads", type=int, default=2, help="concurrent callers")
    args = parser.parse_args()

    images = photos_at(SIDE)
    jpegs = []
    for image in images:
        encoded = io.BytesIO()
        image.save(encoded, "JPEG", quality=90)
        jpegs.append(encoded.getvalue())
    rss_before = rss_mib()
    import_cpu, import_wall = timed(lambda: importlib.import_module("ai_edge_litert.interpreter"))

    detector = Detector()
    first_use = {model: first_use_ms(detector, images[0], classes) for model, classes in FIRST_USE}
    assert detector.loaded == {COCO, BLAZEFACE, OIDV4}
    rss_loaded = rss_mib()

    n = 120
    per_image = [
        (
            f"detect, 1 caller: {name} [{' + '.join(sorted({ANSWERED_BY[c] for c in classes}))}]",
            cpu_per_image(detector, images, classes, n),
        )
        for name, classes in (
            (f"default classes ({', '.join(DEFAULT_CLASSES)})", labels_needed(DEFAULT_CLASSES)),
            ("cup", {"cup"}),
            ("camera", {"camera"}),
            ("default classes + camera", labels_needed((*DEFAULT_CLASSES, "camera"))),
            (f"all {len(CLASS_NAMES)} classes", set(CLASS_NAMES)),
        )
    ]

    default = labels_needed(DEFAULT_CLASSES)

    def decode_and_detect(i: int) -> None:
        detector.detect(decode_image(jpegs[i % len(jpegs)]).image, default, detail=FAST)

    def detect_all(i: int) -> None:
        detector.detect(decode_image(jpegs[i % len(jpegs)]).image, detail=FAST)

    dec_cpu, dec_wall = timed(lambda: in_threads(1, n, decode_and_detect))
    # Warm up every pooled interpreter of every model, and the allocator's and the decoder's
    # working sets (they settle within ~250 images), before measuring growth.
    in_threads(args.threads, 300, detect_all)
    rss_warm = rss_mib()
    many_cpu, many_wall = timed(lambda: in_threads(args.threads, n, decode_and_detect))
    in_threads(args.threads, args.images, detect_all)
    rss_end = rss_mib()
    api_jobs, api_per_job = 8, 16
    api_rate = through_the_api(jpegs, 2, api_jobs, api_per_job)

    rows = [
        ("machine", machine()),
        ("packages", packages(("ai-edge-litert", "numpy", "pillow"))),
        ("images", f"{len(images)} test photos scaled to {SIDE} px on the longer side"),
        ("import ai_edge_litert.interpreter", f"{import_wall * 1000:.0f} ms wall, {import_cpu * 1000:.0f} ms CPU"),
        *((f"first use of the {model} model", f"{ms:.0f} ms wall") for model, ms in first_use.items()),
        *per_image,
        ("decode JPEG + detect default classes, 1 caller", f"{dec_cpu / n * 1000:.1f} ms CPU/image, {dec_wall / n * 1000:.1f} ms wall/image"),
        (f"decode JPEG + detect default classes, {args.threads} callers", f"{many_cpu / n * 1000:.1f} ms CPU/image, {n / many_wall:.0f} images/s"),
        ("RSS before loading", f"{rss_before:.0f} MiB"),
        ("RSS with every model loaded (1 interpreter each)", f"{rss_loaded:.0f} MiB"),
        (f"RSS, all classes, {args.threads} callers warmed up", f"{rss_warm:.0f} MiB"),
        (f"RSS after {args.images} more images (all classes, {args.threads} callers)", f"{rss_end:.0f} MiB ({rss_end - rss_warm:+.1f} MiB)"),
        ("through the embedded API, 2 workers, default classes", f"{api_rate:.0f} images/s ({api_jobs} jobs of {api_per_job} JPEGs at {SIDE} px, HTTP + base64 + decode + detect)"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
