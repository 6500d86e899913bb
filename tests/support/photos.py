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


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100_000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
