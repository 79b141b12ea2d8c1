"""Builders and assertions shared by the resource tests."""

from __future__ import annotations

from typing import Any

import pytest

from calico.errors import ValidationError
from calico.resources import API_VERSION, Resource, parse_resource


def doc(
    kind: str, spec: dict[str, Any] | None = None, name: str = "test", **meta: Any
) -> dict[str, Any]:
    """A raw v3 resource dict; ``meta`` adds metadata keys (namespace, labels...)."""
    data: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, **meta},
    }
    if spec is not None:
        data["spec"] = spec
    return data


def parse(
    kind: str, spec: dict[str, Any] | None = None, name: str = "test", **meta: Any
) -> Resource:
    return parse_resource(doc(kind, spec, name, **meta))


def rejects(data: dict[str, Any], field: str | None, *fragments: str) -> ValidationError:
    """Assert ``data`` is rejected, blaming ``field`` (exact path), message has ``fragments``."""
    with pytest.raises(ValidationError) as info:
        parse_resource(data)
    error = info.value
    assert error.field == field, str(error)
    text = str(error)
    assert "\n" not in text
    if field is not None:
        assert f"field {field}" in text
    for fragment in fragments:
        assert fragment in text, text
    return error


def roundtrip(resource: Resource) -> None:
    """to_dict() is JSON-ready and parses back to an equal resource."""
    import json

    data = resource.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = parse_resource(data)
    assert again == resource
    assert again.to_dict() == data
