"""Reading untyped Kubernetes objects (YAML/JSON dicts) with precise errors.

calicoctl hands us documents as plain dicts.  The Kubernetes API server
would have decoded them strictly into Go structs (unknown fields rejected,
no silent string-to-number conversion) and validated them; we do the same
here so that a typo in a policy fails the command instead of quietly
converting into a different policy.

Every accessor takes the dotted path of the value it reads
(``spec.ingress[0].ports[1].port``) and raises
:class:`calico.errors.ValidationError` naming that path and the bad value.
A ``null`` value means "unset", as it does for Go's decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from calico.errors import ValidationError

Raw = Mapping[str, Any]

# Every field of Kubernetes' ObjectMeta: what `kubectl get -o yaml` prints
# must apply unchanged.  Only name, namespace and labels are used.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def fail(reason: str, path: str, value: object = None) -> NoReturn:
    """Reject the value at ``path``."""
    raise ValidationError(reason, field=path, value=value)


def join(path: str, key: str | int) -> str:
    """``join("spec", "ingress")`` -> ``spec.ingress``; ints become ``[n]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def mapping(value: object, path: str) -> Raw:
    """A mapping (``{}`` when unset)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fail(f"must be a mapping, not {_type_name(value)}", path, value)
    return value


def sequence(value: object, path: str) -> list[Any]:
    """A list (``[]`` when unset)."""
    if value is None:
        return []
    if not isinstance(value, list):
        fail(f"must be a list, not {_type_name(value)}", path, value)
    return value


def string(value: object, path: str) -> str:
    """A string (``""`` when unset)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        fail(f"must be a string, not {_type_name(value)}", path, value)
    return value


def string_map(value: object, path: str) -> dict[str, str]:
    """A string-to-string map such as labels (``{}`` when unset)."""
    result: dict[str, str] = {}
    for key, item in mapping(value, path).items():
        result[str(key)] = string(item, join(path, str(key)))
    return result


def only_fields(obj: Raw, allowed: Iterable[str], path: str) -> None:
    """Reject any key not in ``allowed`` (Go's strict decoding)."""
    known = frozenset(allowed)
    for key in obj:
        if key not in known:
            fail("unknown field", join(path, str(key)))


def object_meta(obj: Raw) -> Raw:
    """The object's ``metadata``, checked for unknown fields."""
    meta = mapping(obj.get("metadata"), "metadata")
    only_fields(meta, OBJECT_META_FIELDS, "metadata")
    return meta


def required_name(meta: Raw) -> str:
    """``metadata.name``, which every object we convert must have."""
    name = string(meta.get("name"), "metadata.name")
    if not name:
        fail("is required", "metadata.name")
    return name


def _type_name(value: object) -> str:
    # Name JSON types, which is what the user wrote, rather than Python's.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
