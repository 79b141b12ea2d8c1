"""Builders and assertions shared by the resource tests."""

from __future__ import annotations

from collections.abc import Mapping
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


def roundtrip(resource: Resource, written: Mapping[str, Any] | None = None) -> None:
    """to_dict() is JSON-ready and parses back to an equal resource.

    With ``written`` (the spec the user wrote), also check that every field
    path in it survives into the stored spec: values may be normalised (CIDRs,
    AS numbers), but a field must never be dropped silently.
    """
    import json

    data = resource.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = parse_resource(data)
    assert again == resource
    assert again.to_dict() == data
    if written is not None:
        missing = _missing_paths(written, data.get("spec", {}), "spec")
        assert not missing, f"fields dropped on parse: {missing}"


def _missing_paths(written: Any, stored: Any, path: str) -> list[str]:
    if isinstance(written, Mapping):
        if not isinstance(stored, Mapping):
            return [path]
        return [
            missing
            for key, value in written.items()
            if value not in (None, [], {}, "", False)  # Go zero values: omitempty
            for missing in (
                _missing_paths(value, stored[key], f"{path}.{key}")
                if key in stored
                else [f"{path}.{key}"]
            )
        ]
    if isinstance(written, list):
        if not isinstance(stored, list) or len(stored) != len(written):
            return [path]
        return [
            m
            for i, (w, s) in enumerate(zip(written, stored, strict=True))
            for m in _missing_paths(w, s, f"{path}[{i}]")
        ]
    return []
