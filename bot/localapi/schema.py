"""The v2 Swagger spec as validators: request bodies are checked against its `definitions`, queries
against its parameters, and the first problem becomes a `BadRequest` naming the field by its JSON
path (`images[3].url`).

Swagger 2.0 schemas are JSON Schema draft 4. Fields the spec does not define are allowed, as it
allows them; what the embedded API adds to the spec is in `bodies`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft4Validator, ValidationError
from jsonschema.exceptions import best_match

from bot.imageintelligence.contract import SPEC_FILE
from bot.localapi.errors import BadRequest

_ARTICLES = {
    "object": "a JSON object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return loaded


@functools.cache
def validator(definition: str) -> Draft4Validator:
    """A validator for one of the spec's `definitions` (KeyError for a name it lacks)."""
    definitions = spec()["definitions"]
    if definition not in definitions:
        raise KeyError(f"no definition {definition!r} in the v2 spec")
    return Draft4Validator({"definitions": definitions, "$ref": f"#/definitions/{definition}"})


def check(definition: str, instance: Any) -> None:
    """Raise BadRequest for the most general problem of `instance` as a `definition`."""
    error = best_match(validator(definition).iter_errors(instance))
    if error is not None:
        field, problem = describe(error)
        raise BadRequest(field, problem)


def query_parameters(path: str, method: str) -> dict[str, str]:
    """The query parameters the spec gives an operation: name -> type ("string", "number")."""
    operation = spec()["paths"][path][method]
    return {p["name"]: p["type"] for p in operation["parameters"] if p["in"] == "query"}


def field_name(path: Sequence[str | int]) -> str:
    """`["images", 3, "url"]` -> "images[3].url"; the empty path is "body"."""
    name = ""
    for part in path:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name or "body"


def json_type(value: Any) -> str:
    """What a JSON value is, with its article: "a string", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def describe(error: ValidationError) -> tuple[str, str]:
    """(the culprit's field, the problem in words). The words never quote the value: it may be
    an image's bytes, or a secret."""
    path: list[str | int] = list(error.absolute_path)
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule == "required":
        path.append(next(key for key in limit if key not in value))
        return field_name(path), "required"
    if rule == "type":
        return field_name(path), f"must be {_ARTICLES.get(limit, limit)}, not {json_type(value)}"
    if rule == "minItems":
        return field_name(path), "must not be empty" if limit == 1 else f"at least {limit} items"
    if rule == "maxItems":
        return field_name(path), f"at most {limit} items, got {len(value)}"
    if rule == "maxLength":
        return field_name(path), f"at most {limit} characters, got {len(value)}"
    if rule == "enum":
        return field_name(path), f"must be one of {', '.join(map(str, limit))}"
    if rule == "minimum":
        return field_name(path), f"must be {limit} or more"
    if rule == "maximum":
        return field_name(path), f"must be {limit} or less"
    return field_name(path), f"does not match the v2 spec ({rule})"
