"""Image decoding (bot/images/decode.py) on every kind of good and bad input: formats and modes,
the reduction to what the detector needs, orientation, and the reasons users read."""

from __future__ import annotations

import io
import random
import resource
import struct
import time

import numpy as np
import pytest
from PIL import Image, ImageSequence

from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from bot.images.decode import (
    DETECT_PIXELS,
    MAX_PIXELS,
    Decoded,
    InvalidImage,
    check_image,
    decode_image,
)
from bot.localapi.detector import get_detector
from bot.localapi.service import start_local_api
from bot.localapi.tiles import Detection
from tests.support.photos import IMAGES, photo, png_claiming


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def chelsea() -> Image.Image:
    return Image.open(IMAGES / "chelsea.png").convert("RGB")


def cat_box(detections: list[Detection]) -> tuple[float, float, float, float]:
    (box,) = [d.box for d in detections if d.label == "cat"]
    return box


def decoded_pixels(data: bytes) -> np.ndarray:
    return np.asarray(decode_image(data).image, dtype=np.int16)


def assert_close(decoded: Image.Image, expected: Image.Image, tolerance: float) -> None:
    assert decoded.mode == "RGB"
    assert decoded.size == expected.size
    diff = np.abs(
        np.asarray(decoded, dtype=np.int16) - np.asarray(expected.convert("RGB"), np.int16)
    )
    assert diff.mean() <= tolerance


# --- formats and modes ---------------------------------------------------------------------------


def test_greyscale_becomes_grey_rgb() -> None:
    source = Image.open(IMAGES / "camera.png")
    decoded = decode_image(photo("camera.png"))
    pixels = np.asarray(decoded.image)
    assert decoded.image.mode == "RGB"
    assert decoded.size == decoded.image.size == source.size
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    assert (pixels[..., 0] == np.asarray(source)).all()


def test_palette_and_cmyk_photos_decode_to_the_same_picture() -> None:
    original = chelsea()
    for data in (
        encode(original.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        encode(original.convert("CMYK"), "JPEG", quality=95),
        encode(original, "WEBP", quality=90),
        encode(original, "BMP"),
        encode(original, "TIFF"),
    ):
        decoded = decode_image(data).image
        assert_close(decoded, original, tolerance=6)
        assert "cat" in {d.label for d in get_detector().detect(decoded)}


def premultiplied_grey_tiff(image: Image.Image) -> bytes:
    """A TIFF that PIL opens as mode "La": a grey+alpha TIFF marked as associated alpha."""
    data = encode(image, "TIFF")
    extra_samples = b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00"  # tag 338, SHORT, 1, "unassociated"
    at = data.index(extra_samples) + 8
    data = data[:at] + b"\x01" + data[at + 1 :]
    assert Image.open(io.BytesIO(data)).mode == "La"
    return data


def test_transparency_is_flattened_onto_white() -> None:
    original = chelsea()
    rgba = original.convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, np.uint8)
    alpha[:, : rgba.width // 2] = 0
    rgba.putalpha(Image.fromarray(alpha))
    for data in (
        encode(rgba, "PNG"),
        encode(rgba.convert("LA"), "PNG"),
        encode(rgba, "WEBP", lossless=True),
        premultiplied_grey_tiff(rgba.convert("LA")),
    ):
        pixels = decoded_pixels(data)
        assert (pixels[:, : rgba.width // 2] >= 254).all()
        assert pixels[:, rgba.width // 2 :].mean() < 200  # the cat is still there
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 200, 0, 0])
    palette.paste(1, (0, 0, 4, 8))
    pixels = decoded_pixels(encode(palette, "GIF", transparency=0))
    assert (pixels[:, :4] == (200, 0, 0)).all()
    assert (pixels[:, 4:] == 255).all()


def test_16_bit_and_float_greys_are_scaled_not_clipped() -> None:
    grey = np.asarray(Image.open(IMAGES / "camera.png"), dtype=np.uint16)
    sixteen = Image.fromarray(grey * 257)
    assert sixteen.mode == "I;16"
    as_int = Image.fromarray(grey.astype(np.int32) * 257)
    as_float = Image.fromarray(grey.astype(np.float32) / 255.0)
    for data in (encode(sixteen, "PNG"), encode(as_int, "TIFF"), encode(as_float, "TIFF")):
        assert np.abs(decoded_pixels(data)[..., 0] - grey).max() <= 1


def test_a_large_16_bit_grey_is_reduced_before_it_becomes_8_bit() -> None:
    grey = np.asarray(Image.open(IMAGES / "camera.png"), dtype=np.uint16)  # 512 x 512
    big = np.kron(grey, np.ones((5, 5), dtype=np.uint16)) * 257  # 2560 x 2560, over 4 Mpx
    decoded = decode_image(encode(Image.fromarray(big), "PNG"))
    assert decoded.size == (2560, 2560)
    assert decoded.image.size == (1280, 1280)  # halved: 1.6 Mpx
    halved = np.rint(big.reshape(1280, 2, 1280, 2).mean(axis=(1, 3)) / 257)
    assert np.abs(np.asarray(decoded.image, np.int16)[..., 0] - halved).max() <= 1


def test_bilevel_image_decodes() -> None:
    assert set(np.unique(decoded_pixels(encode(chelsea().convert("1"), "PNG")))) <= {0, 255}


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animation_is_read_at_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (20, 10), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames += frames * 100
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert len(list(ImageSequence.Iterator(Image.open(io.BytesIO(data))))) == 202
    decoded = decode_image(data).image
    assert decoded.size == (20, 10)
    red, green, blue = np.asarray(decoded)[5, 10].tolist()
    assert red > 250 and green < 5 and blue < 5


# --- reduced to what the detector needs, boxes in the original's pixels --------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_large_image_is_reduced_and_keeps_its_original_size(fmt: str) -> None:
    big = chelsea().resize((3608, 2400), Image.Resampling.LANCZOS)  # 8.7 Mpx
    decoded = decode_image(encode(big, fmt, **({"compress_level": 1} if fmt == "PNG" else {})))
    assert decoded.size == (3608, 2400)
    # Halved: JPEG by libjpeg's scaled decoding, PNG decoded whole then reduced.
    assert decoded.image.size == (1804, 1200)
    assert decoded.image.width * decoded.image.height <= DETECT_PIXELS
    assert_close(decoded.image, big.reduce(2), tolerance=3)
    assert decoded.to_original((100, 50, 200, 150)) == (200, 100, 400, 300)
    assert decoded.from_original((200, 100, 400, 300)) == (100, 50, 200, 150)


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [
        (1, (60, 40), (20, 5)),  # as stored: red on the left
        (3, (60, 40), (20, 55)),  # rotated 180: red on the right
        (6, (40, 60), (5, 20)),  # rotate 90 clockwise to show: red on top
        (8, (40, 60), (55, 20)),  # rotate 90 counter-clockwise to show: red at the bottom
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, size: tuple[int, int], red_at: tuple[int, int]
) -> None:
    stored = Image.new("RGB", (60, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(encode(stored, "JPEG", quality=95, exif=exif))
    assert decoded.image.size == decoded.size == size
    red, _, blue = np.asarray(decoded.image)[red_at].tolist()
    assert red > 200 and blue < 60


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_boxes_are_in_the_oriented_original(fmt: str) -> None:
    detector = get_detector()
    upright = chelsea()
    expected = cat_box(detector.detect(upright))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; shown turned back to the right
    stored = upright.resize((2706, 1800), Image.Resampling.LANCZOS).transpose(
        Image.Transpose.ROTATE_90
    )
    decoded = decode_image(encode(stored, fmt, exif=exif))
    assert decoded.size == (2706, 1800)
    assert decoded.image.size == (1353, 900)
    box = decoded.to_original(cat_box(detector.detect(decoded.image)))
    assert np.allclose(box, [v * 6 for v in expected], atol=8 * 6)


def test_the_embedded_api_gives_boxes_in_the_pixels_of_the_image_sent() -> None:
    small, big = chelsea(), chelsea().resize((2706, 1800), Image.Resampling.LANCZOS)
    with (
        start_local_api() as api,
        ImageIntelligenceClient(api.client_id, api.client_secret, api.base_url) as client,
    ):
        items = [blob_image(encode(image, "JPEG", quality=95)) for image in (small, big)]
        job = client.wait_for_job(client.detect(items, ["cat"]), timeout=30)
    boxes = [image.found[0].boxes[0] for image in job.images]
    small_box, big_box = ((b.x_min, b.y_min, b.x_max, b.y_max) for b in boxes)
    # The big one was decoded at 1353 x 900, and its box brought back 2 times larger.
    assert np.allclose(big_box, [v * 6 for v in small_box], atol=8 * 6)
    assert big_box[2] > 1800


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_damaged_exif_keeps_the_picture() -> None:
    data = bytearray(encode(chelsea(), "JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff"))
    assert decode_image(bytes(data)).image.size == (451, 300)


# --- bad input -------------------------------------------------------------------------------------


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG with its frame header patched to claim ``width`` x ``height``."""
    data = bytearray(encode(Image.new("RGB", (16, 16), (10, 20, 30)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def reason(data: bytes) -> str:
    with pytest.raises(InvalidImage) as caught:
        decode_image(data)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_empty_and_non_images_are_refused() -> None:
    assert reason(b"") == "empty file"
    assert reason(b"hello, this is plain text and not a picture") == "not an image"
    assert reason(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) == "not an image"
    assert reason(b"%PDF-1.4\n" + b"0" * 100) == "not an image"


def test_formats_people_send_that_cannot_be_read_are_named() -> None:
    assert reason(photo("formats/chelsea.heic")) == "unsupported format (HEIC)"
    assert reason(photo("formats/drawing.svg")) == "unsupported format (SVG)"
    assert reason(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == "unsupported format (SVG)"
    assert reason(encode(Image.new("RGB", (4, 4)), "PPM")) == "unsupported format (PPM)"
    assert reason(encode(Image.new("RGB", (4, 4)), "AVIF")) == "unsupported format (AVIF)"


def test_the_header_check_names_the_same_reasons_without_decoding() -> None:
    for data in (
        b"",
        photo("formats/chelsea.heic"),
        photo("formats/drawing.svg"),
        png_claiming(20000, 20000),
    ):
        with pytest.raises(InvalidImage) as caught:
            check_image(data)
        assert str(caught.value) == reason(data)
    cut = photo("chelsea.png")[:50_000]
    check_image(cut)  # the header is whole: only decoding finds the rest missing
    assert reason(cut) == "truncated or damaged image"


@pytest.mark.parametrize("name", ["chelsea.png", "grace_hopper.jpg", "rocket.jpg"])
def test_truncated_images_are_refused(name: str) -> None:
    data = photo(name)
    assert reason(data[: len(data) // 2]) == "truncated or damaged image"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png_claiming(20000, 20000), "image too large (400 megapixels, limit 40 megapixels)"),
        (jpeg_claiming(30000, 30000), "image too large (900 megapixels, limit 40 megapixels)"),
        (png_claiming(7000, 7000), "image too large (7000\u00d77000 pixels, limit 40 megapixels)"),
        (jpeg_claiming(8000, 6000), "image too large (8000\u00d76000 pixels, limit 40 megapixels)"),
        (
            png_claiming(40_000_001, 1),
            "image too large (40000001\u00d71 pixels, limit 40 megapixels)",
        ),
    ],
    ids=["png-20000x20000", "jpeg-30000x30000", "png-7000x7000", "jpeg-8000x6000", "png-long"],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes, expected: str) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    assert reason(data) == expected
    assert time.perf_counter() - started < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 50 * 1024


def test_the_limit_itself_passes_the_size_check() -> None:
    # Exactly MAX_PIXELS gets past the header check and on to decoding (here: too little data).
    assert MAX_PIXELS == 40_000_000
    assert reason(png_claiming(8000, 5000)) == "truncated or damaged image"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bomb_between_pils_own_limits() -> None:
    assert reason(png_claiming(10000, 10000)).startswith("image too large (10000\u00d710000 pixels")


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_bomb_warning_raised_as_error_is_still_invalid_image() -> None:
    assert reason(png_claiming(10000, 10000)) == (
        "image too large (100 megapixels, limit 40 megapixels)"
    )


def test_no_pil_exception_escapes_on_damaged_files() -> None:
    rng = random.Random(7)
    originals = [photo(name) for name in ("chelsea.png", "grace_hopper.jpg")]
    originals.append(encode(chelsea().resize((60, 40)), "GIF"))
    for original in originals:
        for _ in range(25):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(min(len(data), 2000))] = rng.randrange(256)
            data = data[: rng.randint(1, len(data))]
            try:
                decoded = decode_image(bytes(data))
            except InvalidImage as e:
                assert str(e)
            else:
                assert isinstance(decoded, Decoded) and decoded.image.mode == "RGB"
