"""Benchmark the embedded detector's two details (DETECT_DETAIL): what each finds against the
objects marked by hand in tests/images/scenes, and what each costs.

    python -m bench.bench_detail [--images 120]

Each detail is measured in a fresh process of its own (so that its peak RSS is its own):

- found / marked, and false boxes, on each marked scene (tests/scenes.py scores them on the COCO
  model's classes: a box finds a marked object of its class at IoU >= 0.3), at the file's size
  and at 1024 px, the size of Slack's largest thumbnail;
- any person or car on the scenes that have none (whole, and at 1024 px);
- CPU and wall ms per image for the bot's default classes (COCO + BlazeFace), one caller, over
  the 6 test photos and the 6 scenes scaled to 1024 px on the longer side; CPU is process time
  (every thread, user + system);
- images per second with 1 and 2 callers (threads sharing one Detector, as the embedded API's
  two workers do), decoding a 1024 px JPEG and detecting the default classes;
- the process's peak RSS (ru_maxrss).

Then, for the size Slack downloads: decode + detect of the beach's JPEG at its original 1352 px
against the same photo as a 1024 px thumbnail, per detail.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import resource
import subprocess
import sys
from collections.abc import Collection

from PIL import Image

from bench.bench_detector import in_threads, photos_at, timed
from bench.machine import machine, packages
from bot.config import DEFAULT_CLASSES
from bot.images.decode import decode_image
from bot.localapi.detector import Detector
from bot.localapi.tiles import Detection
from bot.vocabulary import DETAILS, labels_needed
from tests.support.scenes import SCENES, SCORED_CLASSES, marked, negatives, scene, score

SIDE = 1024
BEACH = "kite.jpg"


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def measure(detail: str, n: int) -> dict[str, str]:
    """Everything one detail is measured on, in this process."""
    detector = Detector()
    default = labels_needed(DEFAULT_CLASSES)

    def detect(image: Image.Image, classes: Collection[str] = default) -> list[Detection]:
        return detector.detect(image, classes, detail=detail)

    rows: dict[str, str] = {}
    for name in sorted(marked()):
        for side in (None, SIDE):
            image = scene(name, side)
            result = score(name, detect(image, SCORED_CLASSES), image.width)
            false = ", ".join(f"{d.label} {d.confidence:.2f}" for d in result.false)
            at = f"{name} at {'its ' if side is None else ''}{max(image.size)} px"
            rows[at] = f"{result.found} / {result.marked}" + (f" (false: {false})" if false else "")
    alarms = [
        f"{name} {d.label} {d.confidence:.2f}"
        for name in negatives()
        for side in (None, SIDE)
        for d in detect(scene(name, side), {"person", "car"})
    ]
    rows["person or car on the negatives, whole and at 1024 px"] = ", ".join(alarms) or "none"

    images = photos_at(SIDE) + [scene(name, SIDE) for name in sorted(marked()) + negatives()]
    jpegs = [jpeg(image) for image in images]

    def one(i: int) -> None:
        detect(images[i % len(images)])

    def decode_and_detect(i: int) -> None:
        detect(decode_image(jpegs[i % len(jpegs)]).image)

    def again_and_again(data: bytes) -> None:
        for _ in range(20):
            detect(decode_image(data).image)

    for i in range(12):  # warm up: the models load, each pooled interpreter runs once
        one(i)
    cpu, wall = timed(functools.partial(in_threads, 1, n, one))
    rows["CPU / wall ms per 1024 px image, default classes"] = (
        f"{cpu / n * 1000:.1f} / {wall / n * 1000:.1f}"
    )
    for callers in (1, 2):
        _, wall = timed(functools.partial(in_threads, callers, n, decode_and_detect))
        rows[f"images/s, {callers} caller(s): decode JPEG + detect"] = f"{n / wall:.1f}"

    for label, data in (
        ("original 1352 px", (SCENES / BEACH).read_bytes()),
        ("1024 px thumbnail", jpeg(scene(BEACH, SIDE))),
    ):
        cpu, _ = timed(functools.partial(again_and_again, data))
        picture = decode_image(data).image
        beach = score(BEACH, detect(picture, SCORED_CLASSES), picture.width)
        rows[f"{BEACH}, {label}: found; CPU to decode + detect"] = (
            f"{beach.found} / {beach.marked}; {cpu / 20 * 1000:.0f} ms"
        )
    rows["peak RSS"] = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=120, help="images per timing")
    parser.add_argument("--child", choices=DETAILS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.images)))
        return

    columns = {}
    for detail in DETAILS:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_detail",
                "--child",
                detail,
                "--images",
                str(args.images),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        columns[detail] = json.loads(done.stdout.splitlines()[-1])
    rows = list(columns[DETAILS[0]])
    width = max(len(row) for row in rows)
    cells = {d: max(len(str(v)) for v in columns[d].values()) for d in DETAILS}
    print(f"| {'measure':<{width}} | " + " | ".join(f"{d:<{cells[d]}}" for d in DETAILS) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (cells[d] + 2) for d in DETAILS) + "|")
    for row in rows:
        print(
            f"| {row:<{width}} | "
            + " | ".join(f"{columns[d][row]!s:<{cells[d]}}" for d in DETAILS)
            + " |"
        )
    print(f"\nMachine: {machine()}\nPackages: {packages(('ai-edge-litert', 'numpy', 'pillow'))}")


if __name__ == "__main__":
    main()
