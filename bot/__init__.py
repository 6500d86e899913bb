"""Image Intelligence Slack bot: says what is in the images people share in Slack."""

__version__ = "0.1.0"
