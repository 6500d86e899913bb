"""The Image Intelligence API v2's contract (tests/contracts/v2.swagger.json): its address and the
limits and codes its requests must keep to. The client and the embedded API both read them here."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.imageintelligence.com/v2"
MAX_IMAGES_PER_JOB = 64
MAX_URL_LENGTH = 512
MAX_ID_LENGTH = 64  # customId (job and image) and feedId
MAX_WEBHOOK_URL_LENGTH = 512
VERIFY_MODES = ("NEVER", "AUTO", "ALWAYS")
FALSE_POSITIVE = "FALSE_POSITIVE"
FALSE_NEGATIVE = "FALSE_NEGATIVE"
FEEDBACK_CODES = (FALSE_POSITIVE, FALSE_NEGATIVE)
