"""Decoding within a memory budget: what a decode costs, counted from the header, and the budget a
process's decodes share (bot/images/budget.py)."""

from __future__ import annotations

import io
import struct
import threading

import pytest
from PIL import Image

from bot.images.budget import Budget
from bot.images.decode import BUDGET, DECODE_BUDGET, InvalidImage, check_image, decode_image
from tests.support.decoding import peak_added_while_decoding
from tests.support.photos import photo, png_bomb, png_claiming
from tests.support.waiting import until


def test_a_77_kb_16_bit_grey_png_decodes_in_a_tenth_of_a_gigabyte() -> None:
    # The finding: 6300 x 6300 16-bit grey, under the 40 Mpx cap, took 0.9 GB in float64 copies.
    bomb = png_bomb(6300, 6300, "grey16")
    assert len(bomb) < 80_000
    decoded = decode_image(bomb)
    assert decoded.size == (6300, 6300) and decoded.image.size == (1575, 1575)
    # Decoded whole (6300 x 6300 x 2 bytes: 79 MB), reduced 4 times, then made 8-bit: 112 MiB
    # measured, against 871 MiB before.
    assert peak_added_while_decoding(bomb) < 150 * 2**20


def patched_jpeg(data: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose frame header is patched to claim ``width`` x ``height``."""
    frame = next(data.index(marker) for marker in (b"\xff\xc0", b"\xff\xc2") if marker in data)
    return data[: frame + 5] + struct.pack(">HH", height, width) + data[frame + 9 :]


def jpeg(**params: object) -> bytes:
    """A small one-colour JPEG, its colours at full resolution (4:4:4)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(out, "JPEG", subsampling=0, **params)
    return out.getvalue()


@pytest.mark.parametrize(
    ("layout", "data"),
    [
        ("progressive", jpeg(progressive=True)),
        ("baseline, a scan per colour", photo("formats/multiscan.jpg")),
    ],
)
def test_a_jpeg_of_several_scans_costs_every_coefficient(layout: str, data: bytes) -> None:
    # libjpeg keeps 6000 x 6000 x 3 coefficients of 2 bytes (216 MB) to decode these at any scale.
    with pytest.raises(InvalidImage) as caught:
        check_image(patched_jpeg(data, 6000, 6000))
    assert str(caught.value) == (
        "image too large (6000\u00d76000 pixels, 288 MB to decode, limit 200 MB)"
    )
    # One scan is decoded a few rows at a time, here straight to half the size.
    assert check_image(patched_jpeg(jpeg(), 6000, 6000)) == 72_000_000


def test_an_image_that_costs_more_than_the_whole_budget_is_refused_from_its_header() -> None:
    # Palette and RGBA pictures are copied whole to 4 bytes a pixel to be reduced (made RGB, or
    # premultiplied): 6300 x 6300 of them is refused where 16-bit RGB (decoded as 8-bit) is not.
    for kind, cost in (("palette", 238), ("rgba", 357)):
        with pytest.raises(InvalidImage) as caught:
            check_image(png_claiming(6300, 6300, kind))
        assert str(caught.value) == (
            f"image too large (6300\u00d76300 pixels, {cost} MB to decode, limit 200 MB)"
        )
    assert check_image(png_claiming(6300, 6300, "rgb16")) == 198_450_000


def test_a_decode_waits_for_its_share_of_the_processs_budget() -> None:
    bomb = png_bomb(6300, 6300, "grey16")  # costs 119 MB
    decoded = []
    with BUDGET.hold(DECODE_BUDGET - 50_000_000):
        worker = threading.Thread(target=lambda: decoded.append(decode_image(bomb)))
        worker.start()
        assert until(lambda: BUDGET.waiting == 1)
        assert not decoded
    worker.join(timeout=30)
    assert len(decoded) == 1 and decoded[0].size == (6300, 6300)
    assert BUDGET.waiting == 0


def test_a_budget_lets_through_what_fits_in_the_order_asked() -> None:
    budget = Budget(10)
    order: list[str] = []

    def take(name: str, amount: int) -> threading.Thread:
        def run() -> None:
            with budget.hold(amount):
                order.append(name)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with budget.hold(8):
        large = take("large", 5)
        assert until(lambda: budget.waiting == 1)
        small = take("small", 1)  # fits beside the 8 held, but the large one asked first
        assert until(lambda: budget.waiting == 2)
        assert order == []
    for thread in (large, small):
        thread.join(timeout=5)
    assert order == ["large", "small"]
    with budget.hold(10):  # all of it is free again
        pass
    with pytest.raises(ValueError, match="outside a budget of 10"), budget.hold(11):
        pass
