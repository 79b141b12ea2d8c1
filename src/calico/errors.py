"""The project's exception tree.

Every error a user can cause ends as a one-line message naming the field or
argument and the bad value; code that catches these at a process boundary
prints ``str(exc)`` and exits non-zero, never a traceback.

    CalicoError
     ├── ValidationError (ValueError)      a resource, field or value is invalid
     │    └── SelectorError                 selector text does not parse
     ├── ConfigError (ValueError)           bad env / config file / flags
     ├── DatastoreError                     the KV store failed or refused
     │    ├── NotFoundError                 key (or resource) does not exist
     │    ├── AlreadyExistsError            create of an existing key
     │    ├── ConflictError                 CAS failed: revision moved on
     │    ├── CompactedError                watch start revision was compacted
     │    └── DatastoreUnavailableError     cannot reach / open the store
     ├── IPAMError                          allocation / release failed
     │    ├── NoAddressesError              pools exhausted for this host
     │    └── BadSequenceNumberError        stale release refused
     ├── DataplaneError                     a kernel command failed
     │    └── CommandFailedError            carries argv, stdin, rc, stderr
     └── KernelUnsupportedError             the kernel lacks a feature (IPIP)
"""

from __future__ import annotations

from collections.abc import Sequence


class CalicoError(Exception):
    """Base of every error this project raises on purpose."""


class ValidationError(CalicoError, ValueError):
    """A resource, field or value failed validation.

    ``field`` is a dotted path such as ``spec.ingress[0].protocol``; ``value``
    the offending value; ``resource`` a ``Kind(name)`` label when known.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        resource: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.resource = resource
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(f"field {self.field}")
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.reason}" if prefix else self.reason
        if self.field is not None and self.value is not None:
            text += f" (value {self.value!r})"
        return text


class SelectorError(ValidationError):
    """Selector text does not parse; the message says what and where."""

    def __init__(self, message: str, *, selector: str = "", position: int | None = None) -> None:
        self.selector = selector
        self.position = position
        super().__init__(message)


class ConfigError(CalicoError, ValueError):
    """Bad configuration: environment variables, config files or flags."""


class DatastoreError(CalicoError):
    """The datastore failed or refused an operation."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class NotFoundError(DatastoreError):
    """The key or resource does not exist."""


class AlreadyExistsError(DatastoreError):
    """Create of a key or resource that already exists."""


class ConflictError(DatastoreError):
    """Compare-and-swap failed: the stored revision is not the expected one."""


class CompactedError(DatastoreError):
    """A watch asked for a revision that compaction has removed; re-list."""

    def __init__(self, message: str, *, revision: int, compact_revision: int) -> None:
        self.revision = revision
        self.compact_revision = compact_revision
        super().__init__(message)


class DatastoreUnavailableError(DatastoreError):
    """The datastore cannot be reached or opened."""


class IPAMError(CalicoError):
    """An IPAM operation failed."""


class NoAddressesError(IPAMError):
    """No pool has a free address for this host."""


class BadSequenceNumberError(IPAMError):
    """A release carried a stale sequence number; the IP was reallocated."""


class DataplaneError(CalicoError):
    """Programming the kernel failed."""


class CommandFailedError(DataplaneError):
    """An external command (iptables-restore, ipset, ip, bird) failed."""

    def __init__(
        self, argv: Sequence[str], returncode: int, stderr: str = "", stdin: str | None = None
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.stdin = stdin
        first = stderr.strip().splitlines()[0] if stderr.strip() else "no error output"
        super().__init__(f"{' '.join(self.argv[:3])} exited {returncode}: {first}")


class KernelUnsupportedError(CalicoError):
    """The running kernel lacks a feature we need (e.g. IPIP on this machine)."""
