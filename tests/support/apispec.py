"""Validate JSON bodies against the `definitions` of the Image Intelligence v2 Swagger spec."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft4Validator

from tests.support.paths import API_SPEC


@cache
def _definitions() -> dict[str, Any]:
    return json.loads(API_SPEC.read_text())["definitions"]


@cache
def _validator(definition: str) -> Draft4Validator:
    definitions = _definitions()
    if definition not in definitions:
        raise KeyError(f"no definition {definition!r} in the v2 spec")
    schema = {"definitions": definitions, "$ref": f"#/definitions/{definition}"}
    return Draft4Validator(schema)


def validate(definition: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError unless `instance` is a valid `definition`."""
    _validator(definition).validate(instance)


def errors(definition: str, instance: Any) -> list[str]:
    """The validation errors, as readable lines (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in _validator(definition).iter_errors(instance)
    ]
