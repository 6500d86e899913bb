"""The memory a fresh process adds while it decodes an image: for the decoding tests and
bench/bench_decode.py."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from tests.support.paths import REPO

# Run as `python -c PEAK file how`: prints the peak RSS, in bytes, that decoding `file` added to the
# process, with decode_image ("budget") or with Pillow decoding it whole ("whole": Image.open +
# load, no conversion). The peak is VmHWM reset first: ru_maxrss would start from the parent's RSS,
# as a child inherits its high-water mark.
PEAK = """
import io, sys
from pathlib import Path
from PIL import Image
from bot.images.decode import InvalidImage, decode_image

def status(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    return int(line.split()[1]) * 1024

data = open(sys.argv[1], "rb").read()
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS:")
try:
    if sys.argv[2] == "budget":
        decode_image(data)
    else:
        Image.open(io.BytesIO(data)).load()
except InvalidImage:
    pass
print(status("VmHWM:") - before)
"""


def peak_added_while_decoding(data: bytes, how: str = "budget") -> int:
    """Bytes of RSS a fresh process adds at its peak while decoding `data` (see PEAK for `how`)."""
    with tempfile.NamedTemporaryFile(prefix="decoding-") as file:
        file.write(data)
        file.flush()
        done = subprocess.run(
            [sys.executable, "-c", PEAK, file.name, how],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    return int(done.stdout)
