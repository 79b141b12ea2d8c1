"""ObjectMeta: the ``metadata`` of every resource (Kubernetes ObjectMeta).

Name rules differ per kind and are checked by the resource (see
``_resource.py``); here we check what is common: label keys and values,
annotation keys and total size, and the namespace syntax.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from calico.resources import _names
from calico.resources._base import CalicoModel

# Kubernetes' limit on the total size of a resource's annotations.
ANNOTATIONS_MAX_BYTES = 256 * 1024


class ObjectMeta(CalicoModel):
    """Standard object metadata; only ``name`` is needed for most kinds."""

    name: str = ""
    namespace: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resource_version: str = ""
    uid: str = ""
    # RFC 3339 text; calicoctl --export writes ``creationTimestamp: null``.
    creation_timestamp: str | None = None
    generate_name: str = ""
    # The rest of Kubernetes' ObjectMeta, accepted so that resources exported
    # from a Kubernetes-backed Calico apply unchanged.
    generation: int | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[dict[str, Any]] = Field(default_factory=list)
    managed_fields: list[dict[str, Any]] = Field(default_factory=list)
    self_link: str = ""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = value and _names.label_problem(value)
        if problem:
            raise ValueError(f"namespace {problem}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        check_labels(labels)
        return labels

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, annotations: dict[str, str]) -> dict[str, str]:
        check_annotations(annotations)
        return annotations


def check_annotations(annotations: dict[str, str]) -> None:
    """Raise ValueError for a bad key (any case allowed) or too large a total."""
    size = 0
    for key, value in annotations.items():
        problem = _names.qualified_name_problem(key.lower())
        if problem:
            raise ValueError(f"annotation key {key!r}: {problem}")
        size += len(key) + len(value)
    if size > ANNOTATIONS_MAX_BYTES:
        raise ValueError(
            f"total size of annotations is too large by {size - ANNOTATIONS_MAX_BYTES} bytes"
        )


def check_labels(labels: dict[str, str]) -> None:
    """Raise ValueError naming the first bad label key or value."""
    for key, value in labels.items():
        problem = _names.qualified_name_problem(key)
        if problem:
            raise ValueError(f"label key {key!r}: {problem}")
        problem = _names.label_value_problem(value)
        if problem:
            raise ValueError(f"value {value!r} of label {key!r} {problem}")
