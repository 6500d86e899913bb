"""The real test photos in tests/images, and views of them that more than one module uses."""

from __future__ import annotations

import struct
import zlib

from PIL import Image

from tests.support.paths import IMAGES

# Around the camera on the tripod in camera.png: a real camera, which only the OIDv4 model knows.
CAMERA_CROP = (220, 120, 350, 230)


def photo(name: str = "chelsea.png") -> bytes:
    """The bytes of tests/images/`name`."""
    return (IMAGES / name).read_bytes()


def camera_closeup() -> Image.Image:
    """The camera in camera.png, cropped close (130 x 110, greyscale)."""
    return Image.open(IMAGES / "camera.png").crop(CAMERA_CROP)


# PNG colour types: (type, bit depth, samples per pixel).
PNG_KINDS = {
    "rgb": (2, 8, 3),
    "grey16": (0, 16, 1),
    "rgb16": (2, 16, 3),
    "rgba": (6, 8, 4),
    "palette": (3, 8, 1),
}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, kind: str, idat: bytes) -> bytes:
    colour, depth, _ = PNG_KINDS[kind]
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    palette = _chunk(b"PLTE", b"\x00\x00\x00") if kind == "palette" else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + palette
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int, kind: str = "rgb") -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels of a `PNG_KINDS` kind (a
    decompression bomb, cut short: it decodes no further than its header)."""
    return _png(width, height, kind, zlib.compress(b"\x00" * 100_000))


def png_bomb(width: int, height: int, kind: str = "grey16") -> bytes:
    """A whole, valid PNG of ``width`` x ``height`` black pixels of a `PNG_KINDS` kind, compressed
    a row at a time: a few kB to send, and every pixel to decode (6300 x 6300 grey16: 77 kB)."""
    _, depth, samples = PNG_KINDS[kind]
    row = b"\x00" * (1 + width * samples * depth // 8)  # filter 0, then the samples
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return _png(width, height, kind, idat)
