"""Throwaway TLS material for tests, made with the ``openssl`` command.

    with tls_files() as tls:                # temp dir, removed on exit
        EtcdServer(cert_file=tls.server_cert, key_file=tls.server_key,
                   trusted_ca_file=tls.ca_cert, client_cert_auth=True, ...)

One CA signs a server certificate for ``127.0.0.1`` (SAN ``IP:127.0.0.1``)
and a client certificate.  The server certificate carries both the
serverAuth and clientAuth usages: etcd 3.4's JSON gateway dials etcd's own
gRPC port presenting the server certificate as its client certificate, so
with ``--client-cert-auth`` a serverAuth-only certificate breaks the gateway.
Keys are EC P-256 (fast to make) and unencrypted; certificates last one day.
:func:`make_ca` makes an unrelated CA for "wrong CA" tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_DAYS = "1"
_CA_EXTENSIONS = (
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier=hash",
)
_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid,issuer",
)


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the PEM files in ``directory``."""

    directory: str
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def make_tls_files(directory: str, ip: str = "127.0.0.1") -> TLSFiles:
    """A CA, a server certificate for ``ip`` and a client certificate, in ``directory``."""
    ca_cert, ca_key = make_ca(directory, "ca", "calico-test-ca")
    server_cert, server_key = _make_leaf(
        directory,
        "server",
        subject=f"/CN={ip}",
        extensions=(f"subjectAltName=IP:{ip}", "extendedKeyUsage=serverAuth,clientAuth"),
        ca=(ca_cert, ca_key),
    )
    client_cert, client_key = _make_leaf(
        directory,
        "client",
        subject="/CN=calico-test-client",
        extensions=("extendedKeyUsage=clientAuth",),
        ca=(ca_cert, ca_key),
    )
    return TLSFiles(
        directory=directory,
        ca_cert=ca_cert,
        ca_key=ca_key,
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
    )


@contextmanager
def tls_files(ip: str = "127.0.0.1") -> Iterator[TLSFiles]:
    """:func:`make_tls_files` in a fresh temp dir, removed afterwards."""
    directory = tempfile.mkdtemp(prefix="calico-tls-")
    try:
        yield make_tls_files(directory, ip)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def make_ca(directory: str, name: str, common_name: str) -> tuple[str, str]:
    """A self-signed CA: (``<name>.pem``, ``<name>-key.pem``) in ``directory``."""
    cert, key = _paths(directory, name)
    _openssl(
        "req", "-x509", "-new", *_new_key(key), "-days", _DAYS,
        "-subj", f"/CN={common_name}", "-out", cert,
        *(arg for ext in _CA_EXTENSIONS for arg in ("-addext", ext)),
    )  # fmt: skip
    return cert, key


def _make_leaf(
    directory: str,
    name: str,
    *,
    subject: str,
    extensions: tuple[str, ...],
    ca: tuple[str, str],
) -> tuple[str, str]:
    cert, key = _paths(directory, name)
    csr = os.path.join(directory, f"{name}.csr")
    extfile = os.path.join(directory, f"{name}.ext")
    with open(extfile, "w", encoding="ascii") as handle:
        handle.write("\n".join((*_LEAF_EXTENSIONS, *extensions)) + "\n")
    _openssl("req", "-new", *_new_key(key), "-subj", subject, "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
        "-set_serial", str(secrets.randbits(63)), "-days", _DAYS,
        "-extfile", extfile, "-out", cert,
    )  # fmt: skip
    os.remove(csr)
    os.remove(extfile)
    return cert, key


def _new_key(key: str) -> tuple[str, ...]:
    return ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key)


def _paths(directory: str, name: str) -> tuple[str, str]:
    return os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}-key.pem")


def _openssl(*args: str) -> None:
    result = subprocess.run(
        ["openssl", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")
