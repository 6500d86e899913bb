"""Where the repository and the tests' data are, for every test and benchmark."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# The test photos, with their sources and licences in the folder's README.
IMAGES = TESTS / "images"
# What the outside world publishes, copied with its sources (see contracts/README.md).
API_SPEC = TESTS / "contracts" / "v2.swagger.json"
SLACK_CONTRACTS = TESTS / "contracts" / "slack"
