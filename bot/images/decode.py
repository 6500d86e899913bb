"""Decoding images within a memory budget: what the detector, the annotated images and the command
line read.

`check_image` reads an image's header only, and says why it cannot be used; `decode_image` decodes
it to RGB, reduced while decoding to about `DETECT_PIXELS`, and says how it was scaled, so that
boxes are given in the original's pixels. Both raise `InvalidImage`, whose text is a short reason
for users; no PIL exception gets out.

Memory is counted in bytes before any pixel is decoded (`_plan`): the samples the decoder writes at
the size it decodes to (width x height x bands x bytes per sample, as Pillow stores them: 2 to 4
bands take 4 bytes), the decoder's own buffers (every coefficient of a JPEG of several scans, the
copies of the frame WebP and TIFF make), and the conversions after it. An image that costs more
than the process's `BUDGET` is refused; the others wait for their share of it, so the decodes of a
process never hold more than `DECODE_BUDGET` bytes at once, however many images arrive together.
JPEGs are decoded at 1/2, 1/4 or 1/8 of their size (libjpeg's scaled decoding); other formats are
decoded whole, then reduced. Only the first frame of an animation is decoded.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps
from PIL.JpegImagePlugin import JpegImageFile

from bot.images.budget import Budget, give_back_freed_blocks

# Decoding time: libjpeg reads every coefficient of a JPEG, whatever the scale it decodes to.
MAX_PIXELS = 40_000_000
# The detector looks through a 300 px input at the whole picture and at most 6 tiles of it, and
# finds at 1024 px what it finds at full size: 4 Mpx (2309 x 1732 at 4:3) leave it a margin
# (BENCHMARKS.md: bench_detail, bench_decode).
DETECT_PIXELS = 4_000_000
DECODE_BUDGET = 200_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF"})

BUDGET = Budget(DECODE_BUDGET)
give_back_freed_blocks()
_LIMIT = f"limit {MAX_PIXELS // 1_000_000} megapixels"
# Whole copies of the frame a decoder holds, Pillow's own included: libwebp's (4, measured by
# bench_decode), and libtiff's strip buffer, which may be the whole image.
_DECODER_COPIES = {"WEBP": 4, "TIFF": 2}
# Copies of the reduced picture on the way to RGB: conversion, flattening, orientation.
_OUTPUT_COPIES = 4
_RGB_BYTES = 4  # Pillow keeps an RGB pixel in 4 bytes
# Modes reduced as RGB: averaging palette indexes or bits would mean nothing.
_REDUCED_AS_RGB = frozenset({"1", "P", "PA"})
# Modes copied whole (4 bytes a pixel) to be reduced: made RGB, or premultiplied by Pillow.
_COPIED_TO_REDUCE = _REDUCED_AS_RGB | {"LA", "RGBA"}
# The brands of HEIF files of HEVC-coded images (ISO/IEC 23008-12): phones' photos.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_SVG = re.compile(
    rb"^(?:\xef\xbb\xbf)?(?:\s|<\?xml[^>]*>|<!--.*?-->|<!doctype[^>]*>)*<svg[\s>]", re.I | re.S
)


Box = tuple[float, float, float, float]


class InvalidImage(ValueError):
    """The bytes are not a usable image; ``str(e)`` is a short reason fit to show to a user."""


@dataclass(frozen=True)
class Decoded:
    """A decoded image: `image` (RGB, EXIF orientation applied, reduced) and `size`, the original's
    size once oriented, in whose pixels boxes are given."""

    image: Image.Image
    size: tuple[int, int]

    def to_original(self, box: Box) -> Box:
        """A box (x_min, y_min, x_max, y_max) in `image`'s pixels, in the original's."""
        sx, sy = self.size[0] / self.image.width, self.size[1] / self.image.height
        return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)

    def from_original(self, box: Box) -> Box:
        """A box in the original's pixels, in `image`'s."""
        sx, sy = self.image.width / self.size[0], self.image.height / self.size[1]
        return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


@dataclass(frozen=True)
class _Plan:
    """How an opened image is decoded: its size in the file, the reduction after decoding (a
    JPEG's own scaling is already set on the image), and the bytes its decoding holds."""

    size: tuple[int, int]
    factor: int
    cost: int


def check_image(data: bytes) -> int:
    """The bytes decoding ``data`` will hold, read from its header (no pixel is decoded).

    Raises `InvalidImage` when the header tells that it cannot be decoded: empty, not an image, a
    format not supported (named: "unsupported format (HEIC)"), or too large.
    """
    image, plan = _open(data)
    image.close()
    return plan.cost


def decode_image(data: bytes) -> Decoded:
    """``data`` decoded within the process's budget; raises `InvalidImage` as `check_image` does,
    and for truncated or damaged data."""
    image, plan = _open(data)
    # Leaving, the image is closed (its pixels freed) before its share of the budget is given back.
    with BUDGET.hold(plan.cost), image:
        try:
            image.load()
            picture = _reduced(image, plan.factor)
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            if orientation != 1:
                # A copy keeps the original's EXIF, but not a TIFF's (it is in the TIFF's own tags).
                picture.info["exif"] = image.getexif().tobytes()
                picture = ImageOps.exif_transpose(picture)
            picture = to_rgb(picture)
        except Exception:
            raise InvalidImage("truncated or damaged image") from None
        if picture is image:
            picture = image.copy()
    width, height = plan.size
    # EXIF orientations 5 to 8 turn the picture a quarter.
    return Decoded(picture, (height, width) if orientation in (5, 6, 7, 8) else (width, height))


def _open(data: bytes) -> tuple[ImageFile.ImageFile, _Plan]:
    if not data:
        raise InvalidImage("empty file")
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage(_too_large_from_pil(e)) from None
    except Exception:
        raise InvalidImage(_not_an_image(data)) from None
    try:
        return image, _plan(image, data)
    except BaseException:
        image.close()
        raise


def _plan(image: ImageFile.ImageFile, data: bytes) -> _Plan:
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidImage(f"unsupported format ({image.format})")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InvalidImage(f"image too large ({width}\u00d7{height} pixels, {_LIMIT})")
    factor = _factor(image.size)
    buffers = 0
    if isinstance(image, JpegImageFile):
        buffers = _coefficient_bytes(image, data)
        if factor > 1:
            image.draft(None, (-(-width // factor), -(-height // factor)))
            factor = _factor(image.size)
    pixels = image.width * image.height
    decoded = pixels * _pixel_bytes(image.mode) * _DECODER_COPIES.get(str(image.format), 1)
    if factor > 1 and image.mode in _COPIED_TO_REDUCE:
        decoded += pixels * _RGB_BYTES
    reduced = -(-image.width // factor) * -(-image.height // factor)
    cost = buffers + decoded + _OUTPUT_COPIES * reduced * _RGB_BYTES
    if cost > BUDGET.total:
        raise InvalidImage(
            f"image too large ({width}\u00d7{height} pixels, {_megabytes(cost)} to decode, "
            f"limit {_megabytes(BUDGET.total)})"
        )
    return _Plan((width, height), factor, cost)


def _factor(size: tuple[int, int]) -> int:
    """The whole factor that brings an image of ``size`` to at most DETECT_PIXELS."""
    return max(1, math.ceil(math.sqrt(size[0] * size[1] / DETECT_PIXELS)))


def _pixel_bytes(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _coefficient_bytes(image: JpegImageFile, data: bytes) -> int:
    """What libjpeg holds besides the picture for a JPEG of several scans (progressive, or its
    colours in separate scans): every DCT coefficient of the image, 2 bytes each, whatever the
    scale it decodes to."""
    if not (image.info.get("progressive") or _several_scans(data)):
        return 0
    most_h = max(h for _, h, _, _ in image.layer)
    most_v = max(v for _, _, v, _ in image.layer)
    samples = sum(
        -(-image.width * h // most_h) * -(-image.height * v // most_v) for _, h, v, _ in image.layer
    )
    return 2 * samples


def _several_scans(data: bytes) -> bool:
    """Whether a JPEG's first image has a start-of-scan marker after its first scan's (the
    entropy-coded data of a scan never holds one, nor an end of image)."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte
            at += 1
        elif marker == 0xDA:
            end = data.find(b"\xff\xd9", at)
            return data.find(b"\xff\xda", at + 2, end if end != -1 else len(data)) != -1
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return False


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    if factor == 1:
        return image
    if image.mode.startswith("I;16"):  # reduce() has no 16-bit modes; a box resize is the same
        size = (-(-image.width // factor), -(-image.height // factor))
        return image.resize(size, Image.Resampling.BOX)
    if image.mode in _REDUCED_AS_RGB:
        image = to_rgb(image)
    return image.reduce(factor)


def _not_an_image(data: bytes) -> str:
    """Why bytes Pillow cannot open are refused, naming the formats people send that it does not
    read: HEIC from phones, and SVG."""
    if data[4:8] == b"ftyp":  # an ISO media file: its major brand, version, compatible brands
        end = min(int.from_bytes(data[:4], "big"), 64)
        if {data[i : i + 4] for i in range(8, end, 4)} & _HEIC_BRANDS:
            return "unsupported format (HEIC)"
    if _SVG.match(data[:4096]):
        return "unsupported format (SVG)"
    return "not an image"


def _too_large_from_pil(error: Exception) -> str:
    # PIL refuses the very largest images inside Image.open(), before their size can be read;
    # its message carries the pixel count.
    match = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(match.group(1)) / 1e6:.0f} megapixels, " if match else ""
    return f"image too large ({size}{_LIMIT})"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any mode: transparency flattened onto white, 16-bit and float greys scaled."""
    if image.mode == "RGB":
        return image
    if image.mode == "F":
        values = np.asarray(image)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0.0
        return Image.fromarray(np.rint(scaled).astype(np.uint8)).convert("RGB")
    if image.mode == "I" or image.mode.startswith("I;16"):
        # PIL's own convert() clips these to 0..255, which turns a 16-bit photo white. Integer
        # greys come from 16-bit files (PNG, TIFF): 0..65535 to 0..255, rounded, in integers.
        values = np.array(image, dtype=np.int32)
        np.clip(values, 0, 65535, out=values)
        values += 128
        values //= 257
        return Image.fromarray(values.astype(np.uint8)).convert("RGB")
    if image.has_transparency_data:
        # Premultiplied grey ("La", from TIFF) has no direct conversion to RGBA.
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        return flattened
    return image.convert("RGB")
