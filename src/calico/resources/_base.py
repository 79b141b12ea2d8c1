"""The pydantic base every projectcalico.org/v3 model derives from.

Three behaviours of Calico's Go types are reproduced here once, so that the
kind modules only declare fields:

* Strict decoding.  calicoctl decodes with ``yaml.UnmarshalStrict`` into typed
  Go structs: an unknown key is an error and a string is never silently turned
  into a number or a boolean.  Hence ``extra="forbid"`` and ``strict=True``.
  Input documents are matched on the camelCase JSON names only (the loader
  passes ``by_name=False``); Python code may also construct models with the
  snake_case attribute names.

* ``omitempty``.  Go omits a value-typed field holding its zero value, and a
  pointer-typed field holding nil, but prints a pointer to a zero value.  We
  model the first kind as ``x: T = <zero>`` and the second as
  ``x: T | None = None``, then serialise with ``exclude_defaults``.  The few
  fields Go declares *without* ``omitempty`` are listed in ``_always_emit``.

* Errors.  A validation failure anywhere ends as one
  :class:`calico.errors.ValidationError` naming the camelCase path of the bad
  field and its value.  Cross-field checks that run on a whole model call
  :func:`fail` with the path (relative to that model) of the field to blame.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, NoReturn

import pydantic
from pydantic import BaseModel, ConfigDict, PlainSerializer, model_serializer
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from calico.resources._errors import CALICO_ERROR, from_pydantic, render_loc


def fail(reason: str, *, at: str = "", value: object = None) -> NoReturn:
    """Reject the model being validated.

    ``at`` is the camelCase path, relative to the model, of the field to
    blame (``"destination.ports[1]"``); ``value`` the offending value, shown
    in the message when not None.
    """
    context: dict[str, Any] = {"reason": reason, "at": at}
    if value is not None:
        context["value"] = value
    raise PydanticCustomError(CALICO_ERROR, "{reason}", context)


def join_path(*parts: str | int) -> str:
    """``join_path("ingress", 0, "source")`` -> ``"ingress[0].source"``."""
    return render_loc(tuple(part for part in parts if part != ""))


def _go_number(value: float) -> float | int:
    # Go's encoding/json prints float64(100) as 100, not 100.0; keep that so
    # our JSON and YAML output look like calicoctl's.
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# float64 fields (policy and tier order).
GoFloat = Annotated[
    float, pydantic.AfterValidator(_finite), PlainSerializer(_go_number, return_type=Any)
]


class CalicoModel(BaseModel):
    """Base of every v3 model: strict, camelCase, Go ``omitempty`` output."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    # Python names of fields Go serialises even when empty (no omitempty).
    _always_emit: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, /, **data: Any) -> None:
        # Direct construction from Python raises the project's error type,
        # like parse_resource does, instead of pydantic's.
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise from_pydantic(exc, resource=self._label_for(data)) from None

    # pydantic routes model_validate() through a custom __init__ unless it is
    # marked as the base one; validation of nested documents must not come
    # through here (it would convert errors once per nesting level).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def _label_for(cls, data: dict[str, Any]) -> str | None:
        return None

    @model_serializer(mode="wrap")
    def _serialise(self, handler: pydantic.SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self._always_emit:
            return data
        ordered: dict[str, Any] = {}
        for name, field in type(self).model_fields.items():
            alias = field.alias or name
            if alias in data:
                ordered[alias] = data[alias]
            elif name in self._always_emit:
                ordered[alias] = _dump(getattr(self, name))
        return ordered

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready camelCase dict, omitting unset optional fields."""
        return self.model_dump(mode="json", exclude_defaults=True)


def _dump(value: Any) -> Any:
    if isinstance(value, CalicoModel):
        return value.to_dict()
    return value
