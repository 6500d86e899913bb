"""Boxes drawn on real photos: same size, pixels changed on the box edge and nowhere far from it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.imageintelligence.models import BoundingBox, DetectedObject, ImageResult
from bot.images.annotate import annotate
from bot.images.decode import InvalidImage
from tests.support.photos import photo

CHELSEA = photo("chelsea.png")  # 451 x 300


def result(*objects: DetectedObject) -> ImageResult:
    return ImageResult("img", "", "COMPLETED_SUCCESSFULLY", None, objects)


def cat(*boxes: BoundingBox) -> DetectedObject:
    return DetectedObject("cat", 0.9, True, boxes=boxes)


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def diff(before: np.ndarray, after: np.ndarray, xs: slice, ys: slice) -> float:
    return float(np.abs(after[ys, xs] - before[ys, xs]).mean())


def test_a_box_and_its_label_are_drawn_and_nothing_else_changes() -> None:
    drawn = annotate(CHELSEA, result(cat(BoundingBox(150, 80, 330, 290, 0.87))))
    assert drawn is not None
    with Image.open(io.BytesIO(drawn)) as image:
        assert image.format == "JPEG"
        assert image.size == (451, 300)
    before, after = pixels(CHELSEA), pixels(drawn)
    # The outline is drawn inwards from the box's edges, 2 px wide here; JPEG noise is < 3.
    assert diff(before, after, slice(150, 152), slice(100, 280)) > 25  # left edge
    assert diff(before, after, slice(329, 331), slice(100, 280)) > 25  # right edge
    assert diff(before, after, slice(160, 320), slice(289, 291)) > 25  # bottom edge
    assert diff(before, after, slice(152, 190), slice(62, 78)) > 40  # the label above the box
    inside = diff(before, after, slice(170, 310), slice(100, 270))
    right_of_box = diff(before, after, slice(345, 451), slice(0, 300))
    left_of_box = diff(before, after, slice(0, 135), slice(0, 300))
    assert max(inside, right_of_box, left_of_box) < 5  # JPEG noise only


def test_each_class_gets_its_own_colour() -> None:
    boxes = result(
        cat(BoundingBox(20, 60, 200, 280, None)),
        DetectedObject("dog", 0.7, True, boxes=(BoundingBox(240, 60, 430, 280, 0.7),)),
    )
    drawn = annotate(CHELSEA, boxes)
    assert drawn is not None
    after = pixels(drawn)
    cat_edge = after[150:250, 20:22].reshape(-1, 3).mean(axis=0)
    dog_edge = after[150:250, 240:242].reshape(-1, 3).mean(axis=0)
    assert np.abs(cat_edge - dog_edge).sum() > 100


def test_boxes_of_objects_not_found_are_not_drawn() -> None:
    missed = DetectedObject("dog", 0.2, False, boxes=(BoundingBox(10, 10, 100, 100, 0.2),))
    assert annotate(CHELSEA, result(missed)) is None
    assert annotate(CHELSEA, result(cat())) is None  # found, but no box to draw
    assert annotate(CHELSEA, result()) is None


def test_boxes_partly_or_wholly_outside_the_image_are_clipped_or_skipped() -> None:
    drawn = annotate(
        CHELSEA,
        result(cat(BoundingBox(-50, -40, 200, 150, 0.8), BoundingBox(900, 900, 1000, 1000, 0.8))),
    )
    assert drawn is not None
    before, after = pixels(CHELSEA), pixels(drawn)
    assert after.shape == before.shape
    assert diff(before, after, slice(0, 3), slice(40, 140)) > 40  # the clipped left edge
    assert diff(before, after, slice(260, 451), slice(170, 300)) < 5


@pytest.mark.parametrize("name", ["rocket.jpg", "grace_hopper.jpg", "camera.png"])
def test_other_photos_and_a_greyscale_one_come_back_as_colour_jpeg(name: str) -> None:
    data = photo(name)
    drawn = annotate(data, result(cat(BoundingBox(40, 40, 200, 200, 0.5))))
    assert drawn is not None
    with Image.open(io.BytesIO(drawn)) as image, Image.open(io.BytesIO(data)) as original:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", original.size)


def test_bytes_that_are_not_an_image_raise_invalid_image() -> None:
    with pytest.raises(InvalidImage):
        annotate(b"<html>login</html>", result(cat(BoundingBox(1, 1, 5, 5, 0.5))))


def test_a_box_that_counts_for_two_classes_is_drawn_once_for_the_first() -> None:
    face = BoundingBox(150, 80, 330, 290, 0.87)
    person = DetectedObject("person", 0.87, True, boxes=(face,))
    both = annotate(CHELSEA, result(person, DetectedObject("face", 0.87, True, boxes=(face,))))
    assert both is not None
    assert both == annotate(CHELSEA, result(person))


def test_every_counted_box_is_drawn_however_many_there_are() -> None:
    # Eight people, as the embedded API counts them: a box each, in two rows of four.
    rects = [(20 + 110 * i, y, 90 + 110 * i, y + 80) for y in (100, 210) for i in range(4)]
    people = DetectedObject(
        "person", 0.9, True, boxes=tuple(BoundingBox(*rect, 0.9) for rect in rects)
    )

    drawn = annotate(CHELSEA, result(people))

    assert drawn is not None
    before, after = pixels(CHELSEA), pixels(drawn)
    for x0, y0, x1, y1 in rects:
        assert diff(before, after, slice(x0, x0 + 2), slice(y0 + 10, y1 - 5)) > 25  # left edge
        assert diff(before, after, slice(x1 - 1, x1 + 1), slice(y0 + 10, y1 - 5)) > 25  # right
        assert diff(before, after, slice(x0 + 10, x1 - 10), slice(y0 + 10, y1 - 10)) < 5


def test_a_large_image_is_drawn_reduced_with_its_boxes_scaled() -> None:
    with Image.open(io.BytesIO(CHELSEA)) as image:
        big = image.convert("RGB").resize((451 * 6, 300 * 6), Image.Resampling.LANCZOS)
    data = io.BytesIO()
    big.save(data, "PNG", compress_level=1)
    # The box in the pixels of the image sent: the one of the first test, 6 times larger.
    drawn = annotate(data.getvalue(), result(cat(BoundingBox(900, 480, 1980, 1740, 0.87))))
    assert drawn is not None
    after = pixels(drawn)
    assert after.shape == (900, 1353, 3)  # reduced 2 times: at most 4 Mpx
    before = np.asarray(big.reduce(2), dtype=np.int16)
    assert diff(before, after, slice(450, 455), slice(300, 840)) > 25  # the left edge, at 450
    assert diff(before, after, slice(500, 960), slice(300, 840)) < 5  # inside: JPEG noise only
