"""Benchmark decoding hostile images within the memory budget (issue 14, finding 5).

    python -m bench.bench_decode

1. Each file of a hostile set (small files of large pictures, under the 40 Mpx cap, as an attacker
   would send them): its size, what `decode_image` makes of it (the size it decodes to, or why it
   refuses it), the bytes its header says the decode holds, and the peak RSS a fresh process adds
   while decoding it, with `decode_image` and with Pillow decoding it whole (`Image.open` + `load`,
   no conversion: the least any decode of the whole picture holds).
2. The worst message: the embedded API in a process of its own (`start_local_api`, detail
   thorough), warmed up by a job of photos (every image worker's interpreters loaded), then one
   `/detect` job of the hostile files the budget lets through, cycled: 10 (the most files Slack
   lets one message share) and 64 (the most one job takes), with the API's 2 image workers
   (`LOCAL_API_WORKERS`' default) and with 8. The figure is the peak RSS during the job (VmHWM,
   reset before it) over the RSS before it.
3. What the reduction keeps: the beach (tests/images/scenes/kite.jpg) scaled up 4 times to a
   5408 x 3600 JPEG, decoded whole and by `decode_image`; what the thorough detector finds against
   the hand marks (boxes brought back to the beach's pixels) and the CPU to decode and detect.
"""

from __future__ import annotations

import io
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.machine import machine, packages
from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from bot.images.decode import DECODE_BUDGET, Decoded, InvalidImage, check_image, decode_image
from bot.localapi.detector import Detector
from bot.localapi.tiles import Detection
from bot.vocabulary import THOROUGH
from tests.support.decoding import peak_added_while_decoding
from tests.support.paths import REPO
from tests.support.photos import photo, png_bomb
from tests.support.scenes import SCENES, SCORED_CLASSES, score

MB = 1e6
MIB = 2**20
BEACH = "kite.jpg"
SCALE = 4

# The embedded API on its own: prints its URL and credentials, serves until stdin closes.
API = """
import sys
from bot.localapi.service import start_local_api
with start_local_api(workers=int(sys.argv[1])) as api:
    print(api.base_url, api.client_id, api.client_secret, flush=True)
    sys.stdin.read()
"""


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def gif_frames(side: int, frames: int) -> bytes:
    """A black animated GIF whose frames each change two pixels."""
    first = Image.new("P", (side, side), 0)
    first.putpalette([0, 0, 0, 255, 255, 255])
    later = []
    for n in range(1, frames):
        frame = first.copy()
        frame.paste(1, (n, n, n + 2, n + 2))
        later.append(frame)
    return encoded(first, "GIF", save_all=True, append_images=later, duration=50, loop=0)


def hostile() -> dict[str, bytes]:
    """Small files of large pictures, each under the 40 Mpx cap."""
    grey = Image.new("RGB", (6300, 6300), (40, 40, 40))
    black = Image.new("RGB", (3000, 3000))
    return {
        "PNG 16-bit grey 6300x6300": png_bomb(6300, 6300, "grey16"),
        "PNG 16-bit RGB 6300x6300": png_bomb(6300, 6300, "rgb16"),
        "PNG RGBA 6300x6300": png_bomb(6300, 6300, "rgba"),
        "PNG palette 6300x6300": png_bomb(6300, 6300, "palette"),
        "PNG palette 4500x4500": png_bomb(4500, 4500, "palette"),
        "GIF 4500x4500, 20 frames": gif_frames(4500, 20),
        "JPEG progressive 6300x6300 4:2:0": encoded(grey, "JPEG", progressive=True),
        "JPEG progressive 6300x6300 4:4:4": encoded(grey, "JPEG", progressive=True, subsampling=0),
        "JPEG baseline 6300x6300 4:4:4": encoded(grey, "JPEG", subsampling=0),
        "WebP lossless 3000x3000": encoded(black, "WEBP", lossless=True),
        "WebP lossless 4000x4000": encoded(black.resize((4000, 4000)), "WEBP", lossless=True),
        "WebP animated 3000x3000, 2 frames": encoded(
            black,
            "WEBP",
            lossless=True,
            save_all=True,
            append_images=[Image.new("RGB", (3000, 3000), (0, 0, 1))],
        ),
        "TIFF 16-bit grey 6300x6300, deflate": encoded(
            Image.fromarray(np.zeros((6300, 6300), np.uint16)),
            "TIFF",
            compression="tiff_adobe_deflate",
        ),
        "TIFF float 4000x4000, deflate": encoded(
            Image.fromarray(np.zeros((4000, 4000), np.float32)),
            "TIFF",
            compression="tiff_adobe_deflate",
        ),
    }


def verdict(data: bytes) -> tuple[str, str]:
    """What decode_image makes of `data`, and the bytes its header says the decode holds."""
    try:
        cost = check_image(data)
    except InvalidImage as refused:
        return f"refused: {refused}", "-"
    size = decode_image(data).image.size
    return f"{size[0]}x{size[1]}", f"{cost / MB:.0f} MB"


def per_file(files: dict[str, bytes]) -> list[str]:
    lines = [
        "| file | bytes | decode_image | its cost | peak RSS added: decode_image | Pillow, whole |",
        "|---|---|---|---|---|---|",
    ]
    for name, data in files.items():
        outcome, cost = verdict(data)
        budgeted, whole = (
            peak_added_while_decoding(data, how) / MIB for how in ("budget", "whole")
        )
        lines.append(
            f"| {name} | {len(data):,} | {outcome} | {cost} | {budgeted:.0f} MiB | {whole:.0f} MiB |"
        )
    return lines


def status(pid: int) -> dict[str, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def worst_job(accepted: list[bytes], images: int, workers: int) -> str:
    api = subprocess.Popen(
        [sys.executable, "-c", API, str(workers)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert api.stdout is not None and api.stdin is not None
        base_url, client_id, secret = api.stdout.readline().split()
        with ImageIntelligenceClient(client_id, secret, base_url) as client:
            # Photos enough for every image worker: each detector thread has its interpreters.
            photos = [blob_image(photo("chelsea.png"))] * (2 * workers)
            client.wait_for_job(client.detect(photos, ["person", "cat"]), timeout=60)
            idle = status(api.pid)["VmRSS"]
            Path(f"/proc/{api.pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
            blobs = [blob_image(accepted[n % len(accepted)]) for n in range(images)]
            started = time.monotonic()
            job = client.wait_for_job(client.detect(blobs, ["person", "cat"]), timeout=600)
            elapsed = time.monotonic() - started
        peak = status(api.pid)["VmHWM"]
        statuses = {image.status for image in job.images}
        return (
            f"| {images} | {workers} | {idle / MIB:.0f} MiB | {peak / MIB:.0f} MiB | "
            f"**{(peak - idle) / MIB:.0f} MiB** | {elapsed:.1f} s | {', '.join(sorted(statuses))} |"
        )
    finally:
        if api.stdin is not None:
            api.stdin.close()
        api.wait(timeout=60)


def whole(data: bytes) -> Decoded:
    """The picture decoded whole, as before the budget."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return Decoded(image, image.size)


def reduction() -> list[str]:
    detector = Detector()
    beach = Image.open(SCENES / BEACH).convert("RGB")
    detector.detect(beach, SCORED_CLASSES, detail=THOROUGH)  # loads the model
    big = encoded(beach.resize((beach.width * SCALE, beach.height * SCALE)), "JPEG", quality=90)
    lines = [
        f"| {BEACH} x{SCALE} (JPEG) | decoded to | found / marked | CPU to decode + detect |",
        "|---|---|---|---|",
    ]
    for how, decode in (("decoded whole", whole), ("decode_image", decode_image)):
        started = time.process_time()
        decoded = decode(big)
        found = detector.detect(decoded.image, SCORED_CLASSES, detail=THOROUGH)
        cpu = time.process_time() - started
        on_beach = []
        for d in found:
            x0, y0, x1, y1 = decoded.to_original(d.box)
            box = (x0 / SCALE, y0 / SCALE, x1 / SCALE, y1 / SCALE)
            on_beach.append(Detection(d.label, d.confidence, box))
        result = score(BEACH, on_beach, beach.width)
        width, height = decoded.image.size
        lines.append(
            f"| {how} | {width}x{height} | {result.found} / {result.marked} | {cpu * 1000:.0f} ms |"
        )
    return lines


def main() -> None:
    files = hostile()
    lines = [f"Decode budget: {DECODE_BUDGET / MB:.0f} MB a process.", "", *per_file(files), ""]
    accepted = []
    for data in files.values():
        try:
            check_image(data)
        except InvalidImage:
            continue
        accepted.append(data)
    lines += [
        "| images in the job | image workers | API RSS before | peak RSS during | added "
        "| job took | image statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [worst_job(accepted, n, workers) for n in (10, 64) for workers in (2, 8)]
    lines += ["", *reduction(), ""]
    lines.append(f"Machine: {machine()}")
    lines.append(f"Packages: {packages(['pillow', 'numpy', 'ai-edge-litert'])}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    lines.append(f"(This bench's own process, making the files, peaked at {own} MiB.)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
