"""Where BGP passwords come from.

A BGPPeer (and BGPConfiguration ``nodeMeshPassword``) names a Kubernetes
Secret: ``password: {secretKeyRef: {name, key}}``.  There is no Kubernetes
here, so, as a Secret mounted into a pod would appear, the password is read
from the file ``<secrets dir>/<name>/<key>`` (default dir
``/etc/calico/bgp-secrets``).  The user's YAML stays exactly Calico's.  A
missing file is a warning and the session runs without a password, as
calico-node does when it cannot read the Secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

_log = logging.getLogger(__name__)

DEFAULT_SECRETS_DIR = "/etc/calico/bgp-secrets"

# (secret name, key) -> the secret's value, or None when it cannot be read.
SecretReader = Callable[[str, str], str | None]


def file_secrets(directory: str | Path = DEFAULT_SECRETS_DIR) -> SecretReader:
    """Secrets laid out like a mounted Kubernetes Secret: ``<dir>/<name>/<key>``."""
    root = Path(directory)

    def read(name: str, key: str) -> str | None:
        if "/" in name or "/" in key or name in ("", ".", "..") or key in ("", ".", ".."):
            return None
        try:
            return (root / name / key).read_text().rstrip("\n")
        except OSError:
            return None

    return read


def no_secrets(name: str, key: str) -> str | None:
    return None


def read_password(value: object, secrets: SecretReader, owner: str) -> str | None:
    """The password a ``{secretKeyRef: {name, key}}`` refers to; None if unset or unreadable.

    ValueError if it holds characters a BIRD string cannot (the peer is then skipped).
    """
    if not isinstance(value, dict) or not isinstance(value.get("secretKeyRef"), dict):
        return None
    ref = value["secretKeyRef"]
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    password = secrets(name, key)
    if password is None:
        _log.warning("%s: cannot read BGP password from secret %s key %s", owner, name, key)
    elif '"' in password or "\n" in password:
        # A BIRD string has no escapes: it cannot hold a quote or a newline.
        raise ValueError(f"password in secret {name} key {key} contains a quote or newline")
    return password
