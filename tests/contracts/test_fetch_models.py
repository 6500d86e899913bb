"""scripts/fetch_models.py --check: the shipped model files are the ones their sources publish."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from bot.localapi.models import COCO_LABELS, COCO_MODEL, MODELS_DIR
from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "fetch_models.py"
_spec = importlib.util.spec_from_file_location("fetch_models", SCRIPT)
assert _spec is not None and _spec.loader is not None
fetch_models = importlib.util.module_from_spec(_spec)
sys.modules["fetch_models"] = fetch_models  # dataclasses look their module up there
_spec.loader.exec_module(fetch_models)


def test_every_shipped_model_file_is_checked_and_good(capsys: pytest.CaptureFixture[str]) -> None:
    assert fetch_models.main(["--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checked = {line.split()[1] for line in lines if line.startswith("OK ")}
    shipped = {str(path) for path in MODELS_DIR.iterdir() if path.suffix in (".tflite", ".txt")}
    assert checked == shipped
    assert {COCO_MODEL, COCO_LABELS} <= {Path(path).name for path in checked}


def test_a_changed_or_missing_file_fails_the_check(
    model_links: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (model_links / COCO_LABELS).unlink()
    (model_links / COCO_LABELS).write_text((MODELS_DIR / COCO_LABELS).read_text() + "\n")
    (model_links / COCO_MODEL).unlink()
    assert fetch_models.main(["--check", "--dest", str(model_links)]) == 1
    out = capsys.readouterr().out
    assert f"BAD      {model_links / COCO_LABELS}: sha256 " in out
    assert f"MISSING  {model_links / COCO_MODEL}" in out
    assert out.count("OK ") == 3
