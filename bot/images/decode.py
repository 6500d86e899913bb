"""Decoding images safely: what the detector, the annotated images and the command line read.

`decode_image` turns bytes into an RGB picture, or raises `InvalidImage` with a short reason for
users; it never lets a decompression bomb cost time or memory.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image, ImageOps

MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF"})
_LIMIT = f"limit {MAX_PIXELS // 1_000_000} megapixels"


class InvalidImage(ValueError):
    """The bytes are not a usable image; ``str(e)`` is a short reason fit to show to a user."""


def decode_image(data: bytes) -> Image.Image:
    """Decode ``data`` into an RGB image, EXIF orientation applied, first frame of an animation.

    Raises ``InvalidImage`` (never a PIL exception) for empty, non-image, unsupported, truncated or
    damaged data, and for images over ``MAX_PIXELS``: that is checked from the header before any
    pixel is decoded, so a decompression bomb costs neither time nor memory.
    """
    if not data:
        raise InvalidImage("empty file")
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage(_too_large_from_pil(e)) from None
    except Exception:
        raise InvalidImage("not an image") from None
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidImage(f"unsupported image format ({image.format})")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise InvalidImage(f"image too large ({width}\u00d7{height} pixels, {_LIMIT})")
        try:
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
        except Exception:
            raise InvalidImage("truncated or damaged image") from None


def _too_large_from_pil(error: Exception) -> str:
    # PIL refuses the very largest images inside Image.open(), before their size can be read;
    # its message carries the pixel count.
    match = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(match.group(1)) / 1e6:.0f} megapixels, " if match else ""
    return f"image too large ({size}{_LIMIT})"


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any mode: transparency flattened onto white, 16-bit and float greys scaled."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # PIL's own convert() clips these to 0..255, which turns a 16-bit photo white.
        values = np.asarray(image)
        if image.mode == "F":
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0.0
        else:
            # Integer greys come from 16-bit files (PNG, TIFF): full range 0..65535.
            scaled = np.clip(values, 0, 65535) / 257.0
        return Image.fromarray(np.rint(scaled).astype(np.uint8)).convert("RGB")
    if image.has_transparency_data:
        # Premultiplied grey ("La", from TIFF) has no direct conversion to RGBA.
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        return flattened
    return image.convert("RGB")
