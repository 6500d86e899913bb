"""Draw what was found on the image: a box and a "class 92%" label per bounding box, which is one per
object counted (the embedded API gives a box per object; bot/blocks/results.py counts them).

Box coordinates are pixels of the image the API decoded, so the bytes are decoded here with the
same `decode_image` (RGB, EXIF orientation applied; reduced, so the boxes are scaled to it). The
result is always JPEG: the images are photos and thumbnails, where JPEG is several times smaller
than PNG and the labels stay legible.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from bot.imageintelligence.models import BoundingBox, DetectedObject, ImageResult
from bot.images.decode import Decoded, decode_image

JPEG_QUALITY = 85

# Sasha Trubetskoy's "20 distinct colours", most distinct first.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (255, 225, 25),
    (210, 245, 60),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
    (0, 0, 128),
    (128, 128, 0),
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Rect = tuple[int, int, int, int]


def annotate(image_bytes: bytes, result: ImageResult) -> bytes | None:
    """JPEG bytes of the image with every bounding box of the found objects drawn and labelled,
    or None when the result carries no boxes. Raises `InvalidImage` when the bytes do not decode.
    """
    # A box that counts for two classes (a face alone is also a person) is drawn once, for the first.
    drawn: dict[tuple[float, float, float, float], tuple[DetectedObject, BoundingBox]] = {}
    for obj in result.found:
        for box in obj.boxes:
            drawn.setdefault((box.x_min, box.y_min, box.x_max, box.y_max), (obj, box))
    boxes = list(drawn.values())
    if not boxes:
        return None
    decoded = decode_image(image_bytes)
    image = decoded.image
    short_side = min(image.size)
    line = max(2, round(short_side / 200))
    font = ImageFont.load_default(size=max(12, round(short_side / 30)))
    classes = dict.fromkeys(obj.class_name for obj, _ in boxes)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(classes)}

    draw = ImageDraw.Draw(image)
    placed = [
        (rect, _caption(obj, box), colours[obj.class_name])
        for obj, box in boxes
        if (rect := _clamp(box, decoded)) is not None
    ]
    for rect, _, colour in placed:
        draw.rectangle(rect, outline=colour, width=line)
    # Labels after every box, so no box is drawn across a label.
    for rect, caption, colour in placed:
        _label(draw, rect, caption, colour, font, image)

    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _clamp(box: BoundingBox, decoded: Decoded) -> Rect | None:
    """The box in whole pixels of the decoded image, inside it, or None when nothing of it is."""
    width, height = decoded.image.size
    x_min, y_min, x_max, y_max = decoded.from_original((box.x_min, box.y_min, box.x_max, box.y_max))
    x0, x1 = max(0, round(x_min)), min(width - 1, round(x_max))
    y0, y1 = max(0, round(y_min)), min(height - 1, round(y_max))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _caption(obj: DetectedObject, box: BoundingBox) -> str:
    """ "cat 92%": the box's own score when the API gave one, else the class's."""
    confidence = obj.confidence if box.confidence is None else box.confidence
    return f"{obj.class_name} {confidence:.0%}"


def _label(
    draw: ImageDraw.ImageDraw,
    rect: Rect,
    text: str,
    colour: tuple[int, int, int],
    font: Font,
    image: Image.Image,
) -> None:
    """A filled tag with the caption, above the box's top-left corner (inside it at the top)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, (bottom - top) // 4)
    tag_w, tag_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = max(0, min(rect[0], image.width - tag_w))
    y = rect[1] - tag_h if rect[1] >= tag_h else rect[1]
    draw.rectangle((x, y, x + tag_w, y + tag_h), fill=colour)
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    draw.text((x + pad - left, y + pad - top), text, fill=ink, font=font)
