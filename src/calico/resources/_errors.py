"""Turn pydantic's validation errors into one precise calico ValidationError.

pydantic reports a list of errors, each with a ``loc`` tuple of camelCase
aliases and list indices.  A user wants one line: the resource, the field
path as they would write it (``spec.ingress[0].destination.ports[1]``), what
is wrong and the offending value.  The first error is reported; it is the
first bad field in document order.
"""

from __future__ import annotations

from typing import Any

import pydantic

from calico.errors import ValidationError

# The error type of our own cross-field checks (raised by _base.fail).
CALICO_ERROR = "calico"
# pydantic type-error codes -> what the field must be.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def render_loc(loc: tuple[str | int, ...]) -> str:
    """``("spec", "ingress", 0, "ports")`` -> ``"spec.ingress[0].ports"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def from_pydantic(exc: pydantic.ValidationError, *, resource: str | None) -> ValidationError:
    """The first of ``exc``'s errors as a calico ValidationError."""
    error = exc.errors(include_url=False)[0]
    path = render_loc(tuple(error["loc"]))
    context: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == CALICO_ERROR:
        at = str(context.get("at") or "")
        if at:
            path = f"{path}.{at}" if path and not at.startswith("[") else path + at
        return ValidationError(
            str(context["reason"]),
            field=path or None,
            value=context.get("value"),
            resource=resource,
        )
    reason, value = _describe(kind, error, context)
    return ValidationError(reason, field=path or None, value=value, resource=resource)


def _describe(kind: str, error: Any, context: dict[str, Any]) -> tuple[str, object]:
    value = error.get("input")
    if kind == "missing":
        return "is required", None
    if kind == "extra_forbidden":
        return "unknown field", None
    if kind == "literal_error":
        return f"must be {context.get('expected', 'one of the allowed values')}", _short(value)
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}{_got(value)}", _short(value)
    if kind in _BOUNDS:
        operator, key = _BOUNDS[kind]
        return f"must be {operator} {context.get(key)}", _short(value)
    if kind == "too_long":
        return f"must have at most {context.get('max_length')} entries", None
    if kind == "too_short":
        return f"must have at least {context.get('min_length')} entries", None
    if kind == "value_error":
        # Raised by our field validators: the exception text is the reason.
        cause = context.get("error")
        reason = str(cause) if cause is not None else str(error.get("msg", ""))
        return reason.removeprefix("Value error, "), _short(value)
    return str(error.get("msg", "invalid value")), _short(value)


def _got(value: object) -> str:
    # A mapping or list is not printed (see _short), so at least say what it was.
    if isinstance(value, dict):
        return ", not a mapping"
    if isinstance(value, list):
        return ", not a list"
    return ""


def _short(value: object) -> object:
    # Type errors on a whole mapping or list would print the entire subtree.
    if isinstance(value, (dict, list)):
        return None
    return value
