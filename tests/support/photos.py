"""The real test photos in tests/images, and views of them that more than one module uses."""

from __future__ import annotations

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
