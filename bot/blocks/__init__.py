"""Every Slack message and view the bot sends, built as data with no I/O.

kit: the Block Kit primitives and Slack's limits; results: a detection's results; errors: what went
wrong; usage: `/detect`'s help; feedback: the "Report a mistake" control and its value; home: the
Home tab and the settings modal. The replies jobs and listeners send are importable from here
(`blocks.results_message(...)`); ids and the views come from their modules.
"""

from bot.blocks.errors import (
    Refusal,
    channel_unavailable,
    error_message,
    error_sentence,
    failure_message,
    interrupted_message,
    job_not_found,
    refusal_message,
)
from bot.blocks.feedback import feedback_confirmation
from bot.blocks.kit import notice
from bot.blocks.results import request_announcement, results_message, summary_line
from bot.blocks.usage import help_message, usage_error

__all__ = [
    "Refusal",
    "channel_unavailable",
    "error_message",
    "error_sentence",
    "failure_message",
    "feedback_confirmation",
    "help_message",
    "interrupted_message",
    "job_not_found",
    "notice",
    "refusal_message",
    "request_announcement",
    "results_message",
    "summary_line",
    "usage_error",
]
