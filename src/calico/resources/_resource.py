"""Resource: the base of every projectcalico.org/v3 kind.

A concrete kind declares ``kind: Literal["X"]`` and ``spec``, and may override
two hooks run after its fields validated:

* ``_check_name()`` - the kind's name rule (default: DNS-1123 subdomain);
* ``_complete()`` - Calico's defaults and the cross-field checks that need
  the name or the whole resource (Calico applies the same defaults in
  libcalico-go's clientv3 and CRD schemas before storing a resource).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from calico.datastore.keys import KIND_KEYS
from calico.resources import _names
from calico.resources._base import CalicoModel, fail
from calico.resources._meta import ObjectMeta

API_VERSION: Final = "projectcalico.org/v3"


class Resource(CalicoModel):
    """A v3 resource: ``apiVersion``, ``kind``, ``metadata`` and ``spec``."""

    api_version: Literal["projectcalico.org/v3"] = Field(API_VERSION, alias="apiVersion")
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CalicoModel

    _always_emit: ClassVar[frozenset[str]] = frozenset({"api_version", "kind", "metadata", "spec"})

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The namespace; "" for cluster-scoped kinds."""
        return self.metadata.namespace

    @classmethod
    def namespaced(cls) -> bool:
        return KIND_KEYS[cls.kind_name()][1]

    @classmethod
    def kind_name(cls) -> str:
        default = cls.model_fields["kind"].default
        assert isinstance(default, str), f"{cls.__name__} must default its kind"
        return default

    def label(self) -> str:
        """``Kind(namespace/name)`` or ``Kind(name)``, for messages."""
        return resource_label(self.kind, self.name, self.namespace)

    @classmethod
    def _label_for(cls, data: dict[str, Any]) -> str | None:
        metadata = data.get("metadata")
        if isinstance(metadata, ObjectMeta):
            return resource_label(cls.kind_name(), metadata.name, metadata.namespace)
        if isinstance(metadata, dict):
            name, namespace = metadata.get("name", ""), metadata.get("namespace", "")
            return resource_label(cls.kind_name(), str(name), str(namespace))
        return resource_label(cls.kind_name(), "", "")

    @model_validator(mode="after")
    def _resource_rules(self) -> Self:
        if self.namespace and not self.namespaced():
            fail(
                f"{self.kind} is not namespaced; remove metadata.namespace",
                at="metadata.namespace",
                value=self.namespace,
            )
        self._check_name()
        self._complete()
        return self

    def _check_name(self) -> None:
        self._require_name(_names.subdomain_problem(self.name))

    def _require_name(self, problem: str | None) -> None:
        """Fail on ``metadata.name`` with ``problem`` unless it is None."""
        if problem is not None:
            fail(f"name {problem}", at="metadata.name", value=self.name or None)

    def _complete(self) -> None:
        """Apply defaults and whole-resource checks; no-op by default."""


def resource_label(kind: str, name: str, namespace: str = "") -> str:
    """``NetworkPolicy(default/allow-db)``, ``IPPool(pool1)``."""
    return f"{kind}({namespace}/{name})" if namespace else f"{kind}({name})"
