"""HTTP plumbing for the etcd backend: endpoints, failover, error mapping, base64.

etcd v3 serves its gRPC API as JSON through grpc-gateway (``/v3/kv/range``,
``/v3/kv/txn``, ``/v3/watch``, ...; ``/v3/`` since etcd 3.4, so we skip
etcd3gw's ``/version`` discovery round trip).  etcd3gw's ``Etcd3Client``
gives us one configured ``requests`` session and URL builder per endpoint;
the requests themselves are made here so that a failure can be classified
precisely:

* a request that never left this host (connection refused, connect timeout)
  is retried on the next endpoint, whatever it was;
* a request that may have reached etcd is retried only if it is idempotent
  (reads, plain puts), because repeating a transaction could turn our own
  success into a spurious AlreadyExists or Conflict.

TLS: the CA, client certificate and key are loaded once up front, so a bad
file is a ConfigError naming it rather than a failure on every request; a
failed handshake is reported as such ("TLS handshake failed: certificate
verify failed: ...").

Keys and values travel base64-encoded; int64 fields come back as strings.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import ssl
import sys
import urllib.parse
import warnings
from collections.abc import Iterator
from typing import Any

import requests
import urllib3.exceptions

from calico.datastore.config import parse_endpoint
from calico.errors import ConfigError, DatastoreError, DatastoreUnavailableError


@contextlib.contextmanager
def _eventlet_hidden() -> Iterator[None]:
    """Import etcd3gw without dragging eventlet in.

    etcd3gw (via futurist) imports eventlet whenever it is installed, as it is
    beside Neutron, only to pick a green thread pool for its own watch, which
    we do not use.  That import costs ~150 ms (every CLI and CNI invocation
    pays it), warns that eventlet is deprecated, and then warns again on
    every fork.  A None entry in sys.modules makes ``import eventlet`` fail,
    so they fall back to plain threads.  A process that already runs eventlet
    (neutron-server loading our ML2 driver) has it imported first and is left
    alone.
    """
    hide = "eventlet" not in sys.modules
    if hide:
        sys.modules["eventlet"] = None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if hide and sys.modules.get("eventlet", 0) is None:
            del sys.modules["eventlet"]


with _eventlet_hidden():
    from etcd3gw.client import Etcd3Client

Json = dict[str, Any]


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """(key, range_end) covering every key that starts with ``prefix``.

    The empty prefix is key "\\0" to range_end "\\0": the whole keyspace.
    """
    raw = prefix.encode()
    return raw or b"\0", prefix_end(raw)


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix" (clientv3.GetPrefixRangeEnd).

    b"\\0" means "no upper bound" to etcd, used when no byte can be bumped.
    """
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


class EtcdHttp:
    """POSTs JSON to whichever of the endpoints answers, sticking to the last good one."""

    def __init__(
        self,
        endpoints: list[str],
        *,
        ca_cert: str | None,
        cert: str | None,
        key: str | None,
        timeout: float,
    ) -> None:
        if not endpoints:
            raise ConfigError("etcd endpoints: at least one URL is needed")
        self.endpoints = [e.strip().rstrip("/") for e in endpoints]
        self.timeout = timeout
        _check_tls_files(ca_cert, cert, key)
        self._client_cert = bool(cert)
        self._clients = [self._client(url, ca_cert, cert, key) for url in self.endpoints]
        # Index of the endpoint that answered last; a plain int, so threads
        # racing to update it need no lock (any of their answers is fine).
        self._preferred = 0

    def _client(
        self, url: str, ca_cert: str | None, cert: str | None, key: str | None
    ) -> Etcd3Client:
        scheme, host, port = parse_endpoint(url)
        return Etcd3Client(
            host=host,
            port=port,
            protocol=scheme,
            ca_cert=ca_cert,
            cert_cert=cert,
            cert_key=key,
            timeout=self.timeout,
            api_path="/v3/",
        )

    def close(self) -> None:
        for client in self._clients:
            client.session.close()

    def new_session(self) -> requests.Session:
        """A session with the same TLS settings, for a long-lived watch stream."""
        template = self._clients[0].session
        session = requests.Session()
        session.verify, session.cert = template.verify, template.cert
        return session

    def post(self, path: str, payload: Json, *, idempotent: bool) -> Json:
        """POST ``payload`` to ``/v3/<path>``; the decoded JSON answer."""
        return check(self.send(path, payload, idempotent=idempotent, session=None))

    def send(
        self, path: str, payload: Json, *, idempotent: bool, session: requests.Session | None
    ) -> requests.Response:
        """The raw response (streamed if ``session`` is given) from the first endpoint up."""
        failures: list[str] = []
        start = self._preferred
        for offset in range(len(self._clients)):
            index = (start + offset) % len(self._clients)
            client = self._clients[index]
            try:
                url = client.get_url(path)
                # verify= is passed explicitly: requests lets REQUESTS_CA_BUNDLE /
                # CURL_CA_BUNDLE override a session's own CA file otherwise.
                if session is None:
                    response = client.session.post(
                        url, json=payload, timeout=self.timeout, verify=client.session.verify
                    )
                else:
                    response = session.post(
                        url,
                        json=payload,
                        stream=True,
                        timeout=(self.timeout, None),
                        verify=session.verify,
                    )
            except requests.RequestException as exc:
                reason = _reason(exc, client_cert=self._client_cert)
                failures.append(f"{self.endpoints[index]}: {reason}")
                if idempotent or _never_sent(exc):
                    continue
                break
            self._preferred = index
            return response
        raise DatastoreUnavailableError(f"cannot reach etcd ({'; '.join(failures)})")


def check(response: requests.Response) -> Json:
    """The JSON body of a 200 answer; a DatastoreError naming etcd's message otherwise."""
    parts = urllib.parse.urlsplit(response.url)
    endpoint = f"{parts.scheme}://{parts.netloc}"
    if response.status_code == 200:
        body: Json = response.json()
        return body
    try:
        message = str(response.json().get("message") or response.text)
    except ValueError:
        message = response.text.strip() or response.reason
    if response.status_code in (502, 503, 504):
        raise DatastoreUnavailableError(f"etcd at {endpoint} unavailable: {message}")
    raise EtcdRequestError(f"etcd at {endpoint} refused the request: {message}", message)


class EtcdRequestError(DatastoreError):
    """etcd answered with an error; ``etcd_message`` is its own text."""

    def __init__(self, text: str, etcd_message: str) -> None:
        super().__init__(text)
        self.etcd_message = etcd_message


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach etcd (safe to retry anything)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    # requests wraps "connection refused" as MaxRetryError(reason=NewConnectionError).
    return isinstance(_cause(exc), urllib3.exceptions.NewConnectionError)


def _reason(exc: requests.RequestException, *, client_cert: bool) -> str:
    """The short reason ("[Errno 111] Connection refused"), not urllib3's whole story."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_reason(_cause(exc), client_cert=client_cert)
    text = str(_cause(exc) or exc)
    return text.rsplit(": ", 1)[-1] or type(exc).__name__


# "[SSL: CERTIFICATE_VERIFY_FAILED] " before and " (_ssl.c:1006)" after OpenSSL's text.
_SSL_NOISE = re.compile(r"^\[[A-Z0-9]+(?:: [A-Z0-9_]+)?\]\s*|\s*\(_ssl\.c:\d+\)$")
# What a server that demands a client certificate answers a client without one.
_NO_CLIENT_CERT = (
    "EOF occurred",
    "alert bad certificate",
    "certificate required",
    "alert handshake",
)


def _tls_reason(cause: object, *, client_cert: bool) -> str:
    """``TLS handshake failed: <OpenSSL's reason>``, with a hint when the
    server seems to want the client certificate we do not have."""
    inner = cause
    if isinstance(cause, urllib3.exceptions.SSLError) and cause.args:
        inner = cause.args[0]  # the ssl module's own error
    text = _ssl_text(inner) if isinstance(inner, ssl.SSLError) else str(inner)
    reason = f"TLS handshake failed: {text or type(inner).__name__}"
    if not client_cert and any(sign in text for sign in _NO_CLIENT_CERT):
        reason += " (no client certificate configured; etcd may require one)"
    return reason


def _ssl_text(exc: ssl.SSLError) -> str:
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return _SSL_NOISE.sub("", text).strip()


def _check_tls_files(ca_cert: str | None, cert: str | None, key: str | None) -> None:
    """ConfigError naming the file unless the CA and client certificate/key load."""
    if bool(cert) != bool(key):
        raise ConfigError("etcd TLS: a client certificate and its key must be given together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no system CAs: loading them is slow
    if ca_cert:
        try:
            if os.path.isdir(ca_cert):
                context.load_verify_locations(capath=ca_cert)
            else:
                context.load_verify_locations(cafile=ca_cert)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"etcd CA certificate {ca_cert}: {_file_error(exc)}") from None
    if cert and key:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"etcd client certificate {cert} with key {key}: {_file_error(exc)}"
            ) from None


def _file_error(exc: OSError | ValueError) -> str:
    if isinstance(exc, ssl.SSLError):
        text = _ssl_text(exc)
        return "not a PEM certificate or key" if text in ("", "PEM lib") else text
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _cause(exc: requests.RequestException) -> object:
    cause = exc.args[0] if exc.args else None
    return getattr(cause, "reason", cause)
