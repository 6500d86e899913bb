"""The embedded Image Intelligence-compatible API and its CPU detector."""
