"""Reading resource files: YAML or JSON, many documents, lists.

What calicoctl accepts with ``-f`` (``resourcemgr.CreateResourcesFromFile``):
multi-document YAML; a document that is one resource, a YAML/JSON array of
resources, or a ``<Kind>List`` / ``List`` with ``items``; JSON text.  Empty
documents are skipped.  Non-Calico objects (a Kubernetes Namespace or
NetworkPolicy) come back as raw dicts from :func:`load_documents`.

YAML is read the way Go's ``sigs.k8s.io/yaml`` reads it, not with all of
PyYAML's YAML 1.1 resolution: timestamps stay strings, ``10:20`` is the
string ``"10:20"`` (a port range), not the base-60 integer 620, mapping keys
become strings, and a duplicate key is an error (as in UnmarshalStrict).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from calico.errors import ValidationError
from calico.resources._resource import Resource
from calico.resources.registry import parse_resource

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# PyYAML's int and float patterns without the base-60 forms.
_INT_RE = re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
)
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with Go-compatible scalars, string keys and no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(self.construct_object(key_node, deep=deep))
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT_TAG, _INT_RE, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_RE, list("-+0123456789."))


def _key_text(key: object) -> str:
    # Go converts YAML keys to JSON object keys, i.e. strings.
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def load_documents(text: str, source: str = "-") -> list[dict[str, Any]]:
    """Raw resource dicts from YAML or JSON ``text``, lists expanded.

    Raises ValidationError naming ``source`` and the 1-based document number
    if the text is not valid YAML/JSON or a document is not a resource.
    """
    return [raw for _, raw in _load(text, source)]


def parse_documents(text: str, source: str = "-") -> list[Resource]:
    """Validated resources from ``text``; nothing is returned unless all are valid.

    An invalid resource raises ValidationError whose message starts with
    ``"<source> document N: "`` (``"<source> document N item M: "`` for an
    entry of a list) followed by the resource, field path and value.
    """
    resources: list[Resource] = []
    for where, raw in _load(text, source):
        try:
            resources.append(parse_resource(raw))
        except ValidationError as exc:
            prefix = f"{source} {where}"
            raise ValidationError(
                exc.reason,
                field=exc.field,
                value=exc.value,
                resource=f"{prefix}: {exc.resource}" if exc.resource else prefix,
            ) from None
    return resources


def _load(text: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    """(location, raw resource) pairs; location is ``document N [item M]``."""
    found: list[tuple[str, dict[str, Any]]] = []
    for number, document in enumerate(_documents(text, source), start=1):
        found.extend(_expand(document, f"document {number}", source))
    return found


def _documents(text: str, source: str) -> list[Any]:
    if text.lstrip().startswith(("{", "[")):
        try:
            return [json.loads(text, object_pairs_hook=_json_object)]
        except (json.JSONDecodeError, ValueError) as exc:
            json_error = exc
        try:
            return _yaml_documents(text, source)
        except ValidationError:
            raise _json_failure(json_error, source) from None
    return _yaml_documents(text, source)


def _yaml_documents(text: str, source: str) -> list[Any]:
    documents: list[Any] = []
    try:
        # One at a time, so that an error can name the document it is in.
        for document in yaml.load_all(text, Loader=_Loader):
            documents.append(document)  # noqa: PERF402
    except yaml.YAMLError as exc:
        raise ValidationError(
            f"{source} document {len(documents) + 1}: invalid YAML: {_yaml_problem(exc)}"
        ) from None
    return documents


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).replace("\n", " ")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_failure(exc: Exception, source: str) -> ValidationError:
    if isinstance(exc, json.JSONDecodeError):
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    else:
        detail = str(exc)
    return ValidationError(f"{source} document 1: invalid JSON: {detail}")


def _expand(document: Any, where: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    """One document -> its resources (a list or ``items`` of a List kind)."""
    if document is None:
        return []
    if isinstance(document, dict) and not _is_list_kind(document):
        return [(where, document)]
    if isinstance(document, dict):
        items, defaults = document["items"], _item_defaults(document)
    elif isinstance(document, list):
        items, defaults = document, {}
    else:
        raise ValidationError(
            f"{source} {where}: expected a resource (a mapping with apiVersion and kind) "
            f"or a list of resources, got {type(document).__name__}"
        )
    expanded = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValidationError(
                f"{source} {where} item {index}: expected a resource mapping, "
                f"got {type(item).__name__}"
            )
        expanded.append((f"{where} item {index}", {**defaults, **item}))
    return expanded


def _is_list_kind(document: dict[str, Any]) -> bool:
    kind = document.get("kind")
    return (
        isinstance(kind, str) and kind.endswith("List") and isinstance(document.get("items"), list)
    )


def _item_defaults(document: dict[str, Any]) -> dict[str, Any]:
    # Items of an "IPPoolList" may omit kind and apiVersion; take them from the list.
    defaults: dict[str, Any] = {}
    kind = str(document["kind"])
    if kind != "List":
        defaults["kind"] = kind.removesuffix("List")
    if "apiVersion" in document:
        defaults["apiVersion"] = document["apiVersion"]
    return defaults
