"""Validate JSON bodies against the `definitions` of the Image Intelligence v2 Swagger spec: the one
copy, bot/imageintelligence/v2.swagger.json, with the validators the embedded API uses."""

from __future__ import annotations

from typing import Any

from bot.localapi.schema import spec, validator


def definition(name: str) -> dict[str, Any]:
    found: dict[str, Any] = spec()["definitions"][name]
    return found


def validate(name: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError unless `instance` is a valid `name` definition."""
    validator(name).validate(instance)


def errors(name: str, instance: Any) -> list[str]:
    """The validation errors, as readable lines (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(name).iter_errors(instance)
    ]
