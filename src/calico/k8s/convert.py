"""calicoctl's hook for Kubernetes documents: ``convert_document``.

calicoctl passes every raw input document through :func:`convert_document`
before validating it as a ``projectcalico.org/v3`` resource.  Kubernetes
objects that Calico's Kubernetes datastore would show as Calico resources
are turned into those resources here, so a cluster's manifests apply
unchanged to our datastore (and delete through the same path):

=========================================  ===============================
input                                      output
=========================================  ===============================
``v1 Namespace``                           Profile ``kns.<name>``
``networking.k8s.io/v1 NetworkPolicy``     NetworkPolicy ``knp.default.<name>``
``NamespaceList`` / ``NetworkPolicyList``  the conversion of each item
/ ``v1 List``
anything else                              returned unchanged
=========================================  ===============================

Lists are expanded here too (calicoctl's loader already expands them, but
other callers need not).  A Kubernetes object that does not convert raises
one :class:`calico.errors.ValidationError` whose text names the object, the
field path and the value, e.g.
``networking.k8s.io/v1 NetworkPolicy(x/web): field spec.ingress[0].ports[0].port:
must be between 1 and 65535 (value 70000)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from calico.errors import ValidationError
from calico.k8s.constants import (
    CORE_API_VERSION,
    NAMESPACE_KIND,
    NETWORK_POLICY_KIND,
    NETWORKING_API_VERSION,
)
from calico.k8s.namespace import namespace_to_profile
from calico.k8s.networkpolicy import network_policy_to_calico

RawDocument = dict[str, Any]
_Converter = Callable[[Mapping[str, Any]], RawDocument]

_CONVERTERS: dict[tuple[str, str], _Converter] = {
    (CORE_API_VERSION, NAMESPACE_KIND): namespace_to_profile,
    (NETWORKING_API_VERSION, NETWORK_POLICY_KIND): network_policy_to_calico,
}
_LIST_KINDS = {
    (CORE_API_VERSION, "List"),
    (CORE_API_VERSION, NAMESPACE_KIND + "List"),
    (NETWORKING_API_VERSION, NETWORK_POLICY_KIND + "List"),
}


def is_kubernetes_document(raw: Mapping[str, Any]) -> bool:
    """True if ``raw`` is one of the Kubernetes kinds (or lists) we convert."""
    key = _type_of(raw)
    return key in _CONVERTERS or key in _LIST_KINDS


def _type_of(raw: Mapping[str, Any]) -> tuple[str, str]:
    return str(raw.get("apiVersion")), str(raw.get("kind"))


def convert_document(raw: RawDocument) -> list[RawDocument]:
    """The ``projectcalico.org/v3`` documents ``raw`` stands for.

    Kubernetes kinds are converted; everything else comes back unchanged, as
    the only element of the list (it is validated later, as itself).
    """
    key = _type_of(raw)
    if key in _LIST_KINDS:
        return _convert_list(raw)
    converter = _CONVERTERS.get(key)
    if converter is None:
        return [raw]
    try:
        return [converter(raw)]
    except ValidationError as exc:
        raise ValidationError(
            exc.reason, field=exc.field, value=exc.value, resource=_label(raw)
        ) from None


def _convert_list(raw: RawDocument) -> list[RawDocument]:
    items = raw.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValidationError(
            "must be a list", field="items", value=items, resource=str(raw.get("kind"))
        )
    # Items of a typed list may leave out their kind and apiVersion.
    defaults = {"apiVersion": raw["apiVersion"]}
    if raw["kind"] != "List":
        defaults["kind"] = str(raw["kind"]).removesuffix("List")
    converted: list[RawDocument] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError(
                "must be a mapping", field=f"items[{index}]", resource=str(raw["kind"])
            )
        converted.extend(convert_document({**defaults, **item}))
    return converted


def _label(raw: Mapping[str, Any]) -> str:
    """``networking.k8s.io/v1 NetworkPolicy(ns/name)`` for error messages."""
    meta = raw.get("metadata")
    name = namespace = ""
    if isinstance(meta, Mapping):
        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "")
    qualified = f"{namespace}/{name}" if namespace else name
    return f"{raw.get('apiVersion')} {raw.get('kind')}({qualified})"
