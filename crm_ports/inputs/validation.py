"""Schema validation that reports like a reviewer: file, line, entry, field.

jsonschema does the structural checking (well-kept, declarative schema files ship in
`crm_ports/schema/`); this module only translates its first error into an `InputError`
located through the YAML document's line table. jsonschema is imported on first use: a
command whose inputs come from the parse cache never pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from crm_ports.errors import InputError
from crm_ports.inputs.yamlio import Document, PathItem

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

Describe = Callable[[Sequence[PathItem]], tuple[str, str]]


@cache
def validator(schema_name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    text = resources.files("crm_ports.schema").joinpath(schema_name).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _message(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        return _unknown_key(error.instance, schema)
    if error.validator == "pattern":
        # Every pattern of the schemas says in words what it accepts (tests/test_bad_input.py
        # holds them to it); the regular expression is the last resort.
        what = schema.get("description", f"matching {schema.get('pattern')}")
        return f"{error.instance!r} is not {what}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    return error.message


def _unknown_key(instance: Mapping[str, object], schema: Mapping[str, object]) -> str:
    """'unknown key; did you mean 'client_cidrs'? (valid keys: ...)': a typo's fix and
    every key the mapping takes, so the line alone says what to write."""
    from difflib import get_close_matches

    properties = schema.get("properties")
    valid = sorted(properties) if isinstance(properties, Mapping) else []
    extra = sorted(str(k) for k in instance if k not in valid)
    if not extra:
        return "unknown key"
    close = get_close_matches(extra[0], valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key{hint} (valid keys: {', '.join(valid)})"


def first_error(data: object, schema_name: str) -> tuple[list[PathItem], str] | None:
    """The path and message of the error a reviewer should see first, if any: also for
    data that is no file (the construct API's arguments, `crm_ports.lab.arguments`)."""
    from jsonschema.exceptions import best_match

    error = best_match(validator(schema_name).iter_errors(data))
    if error is None:
        return None
    # absolute_path: an error inside one alternative of an anyOf (a role or a list of
    # roles; a topology id or the lab's own hosts) has a `path` relative to that
    # alternative, which would name the wrong field and line.
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            path = [*path, extra[0]]
    return path, _message(error)


def check(doc: Document, schema_name: str, describe: Describe) -> None:
    found = first_error(doc.data, schema_name)
    if found is None:
        return
    path, message = found
    entry, field = describe(path)
    raise InputError(doc.name, entry, field, message, doc.line(path))
