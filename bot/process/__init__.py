"""The processes: what `python -m bot run` (HTTP or Socket Mode) and `python -m bot worker` start."""
