"""The Image Intelligence API v2's contract: its address, the limits and codes its requests keep to,
and the statuses its answers carry. The client and the embedded API both read them here.

`SPEC_FILE` is the API's Swagger 2.0 spec as the company published it
(github.com/ImageIntelligence/api-specification, `v2/Api.js` rendered to JSON; last change 2019-03).
The embedded API validates requests against its `definitions`, and so do the tests, which also check
that the constants here agree with it.
"""

from __future__ import annotations

import re
from pathlib import Path

SPEC_FILE = Path(__file__).with_name("v2.swagger.json")

DEFAULT_BASE_URL = "https://api.imageintelligence.com/v2"
MAX_IMAGES_PER_JOB = 64
MAX_URL_LENGTH = 512
VERIFY_MODES = ("NEVER", "AUTO", "ALWAYS")
FALSE_POSITIVE = "FALSE_POSITIVE"
FALSE_NEGATIVE = "FALSE_NEGATIVE"

# A job id as the bot takes one from users (`/detect job ID`, "Report a mistake"): the API's are
# UUIDs; at most 100 characters, so that it fits in a Block Kit option value with a class name.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")

JOB_IN_PROGRESS = "IN_PROGRESS"
JOB_OK = "COMPLETED_SUCCESSFULLY"
JOB_PARTIAL_ERROR = "COMPLETED_PARTIAL_ERROR"
JOB_ALL_ERROR = "COMPLETED_ALL_ERROR"
JOB_STATUSES = (JOB_IN_PROGRESS, JOB_OK, JOB_PARTIAL_ERROR, JOB_ALL_ERROR)

IMAGE_OK = "COMPLETED_SUCCESSFULLY"
IMAGE_IN_PROGRESS = "IN_PROGRESS"
IMAGE_UNKNOWN_ERROR = "UNKNOWN_ERROR"
IMAGE_JOB_ERROR = "JOB_ERROR"
IMAGE_DOWNLOAD_ERROR = "IMAGE_DOWNLOAD_ERROR"
IMAGE_FORMAT_ERROR = "INVALID_IMAGE_FORMAT_ERROR"
IMAGE_SPIDERWEBS_ERROR = "SPIDERWEBS_ERROR"
IMAGE_DETECTION_ENGINE_ERROR = "DETECTION_ENGINE_ERROR"
IMAGE_MODEL_SERVICE_ERROR = "MODEL_SERVICE_ERROR"
IMAGE_MALFORMED_MESSAGE_ERROR = "MALFORMED_MESSAGE_ERROR"
IMAGE_STATUSES = (
    IMAGE_OK,
    IMAGE_IN_PROGRESS,
    IMAGE_UNKNOWN_ERROR,
    IMAGE_JOB_ERROR,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_SPIDERWEBS_ERROR,
    IMAGE_DETECTION_ENGINE_ERROR,
    IMAGE_MODEL_SERVICE_ERROR,
    IMAGE_MALFORMED_MESSAGE_ERROR,
)
