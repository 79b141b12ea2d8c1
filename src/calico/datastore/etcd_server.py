"""Run a real single-member etcd (Debian's ``etcd`` 3.4) for tests, the lab and benchmarks.

    with EtcdServer() as server:            # 127.0.0.1, free ports, temp dir
        store = EtcdDatastore([server.endpoint])

The server lives in a fresh temporary directory (data + ``etcd.log``) that
``stop()`` removes after SIGTERM (then SIGKILL) to the PID we started; no
other process is ever signalled.  Quirks handled here:

* ``--log-outputs FILE`` makes etcd 3.4 exit silently unless ``--logger
  zap`` is also given;
* etcd reads every ``ETCD_*`` environment variable as a flag, and ours
  (``ETCD_ENDPOINTS``, ``ETCD_CERT_FILE``, ...) mean something else to it,
  so the child gets an environment without them;
* auto-compaction stays off (the default) so tests decide when to compact;
* ``netns`` runs it under ``ip netns exec``, which execs etcd, so ``pid`` is
  still etcd's own.  The health probe then runs inside the namespace too,
  because the root namespace may have no route to it.

The child gets SIGTERM if the thread that started it dies (``PR_SET_PDEATHSIG``),
so a killed test run leaves no etcd behind: start it from a long-lived thread.

TLS (clients only; peers stay on plain HTTP, there is one member)::

    EtcdServer(cert_file=..., key_file=...,          # https:// client URL
               trusted_ca_file=..., client_cert_auth=True,
               client_cert_file=..., client_key_file=...)

``client_cert_file``/``client_key_file`` are what the health probe presents,
needed when etcd demands client certificates.  The probe does not verify the
server's certificate: it only asks whether the process we started is up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from calico.errors import DatastoreUnavailableError

_PR_SET_PDEATHSIG = 1
# Probe used inside a namespace: exit 0 iff /health says healthy.
# Arguments: URL [client cert, client key].
_PROBE = (
    "import json,ssl,sys,urllib.request as u\n"
    "c=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n"
    "if len(sys.argv)>2: c.load_cert_chain(sys.argv[2],sys.argv[3])\n"
    "try: h=json.load(u.urlopen(sys.argv[1],timeout=1,context=c))['health']\n"
    "except Exception: sys.exit(1)\n"
    "sys.exit(0 if h=='true' else 1)\n"
)


class EtcdServer:
    """One etcd process in a temp dir; a context manager (``start`` / ``stop``)."""

    def __init__(
        self,
        ip: str = "127.0.0.1",
        *,
        netns: str | None = None,
        client_port: int | None = None,
        peer_port: int | None = None,
        name: str = "calico-etcd",
        tmp_parent: str | None = None,
        start_timeout: float = 20.0,
        cert_file: str | None = None,
        key_file: str | None = None,
        trusted_ca_file: str | None = None,
        client_cert_auth: bool = False,
        client_cert_file: str | None = None,
        client_key_file: str | None = None,
    ) -> None:
        if bool(cert_file) != bool(key_file):
            raise ValueError("cert_file and key_file must be given together")
        if (trusted_ca_file or client_cert_auth) and not cert_file:
            raise ValueError("trusted_ca_file and client_cert_auth need cert_file and key_file")
        if client_cert_auth and not (trusted_ca_file and client_cert_file and client_key_file):
            raise ValueError(
                "client_cert_auth needs trusted_ca_file, and client_cert_file and "
                "client_key_file for the health probe"
            )
        self.ip = ip
        self.netns = netns
        self.name = name
        self._ports = (client_port, peer_port)
        self._tmp_parent = tmp_parent
        self._start_timeout = start_timeout
        self.cert_file, self.key_file = cert_file, key_file
        self.trusted_ca_file = trusted_ca_file
        self.client_cert_auth = client_cert_auth
        self._probe_cert = (
            (client_cert_file, client_key_file) if client_cert_file and client_key_file else None
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._ssl: ssl.SSLContext | None = None
        self.dir: str | None = None
        self.client_port = 0
        self.peer_port = 0

    @property
    def endpoint(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        scheme = "https" if self.cert_file else "http"
        return f"{scheme}://{host}:{self.client_port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("etcd server is not running")
        return self._proc.pid

    @property
    def log_path(self) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, "etcd.log")

    def start(self) -> EtcdServer:
        """Start etcd and wait until it reports healthy (retrying if a free port was taken)."""
        attempts = 1 if None not in self._ports or self.netns else 3
        for attempt in range(attempts):
            try:
                self._start_once()
                return self
            except DatastoreUnavailableError as exc:
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in str(exc):
                    raise
        return self  # unreachable: the last attempt returns or raises

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s, the PID we started; remove the temp dir."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> EtcdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------
    def _start_once(self) -> None:
        self._ssl = self._probe_context()  # before etcd starts: a bad file raises here
        self.dir = tempfile.mkdtemp(prefix="calico-etcd-", dir=self._tmp_parent)
        self.client_port, self.peer_port = self._pick_ports()
        argv = self._argv()
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        with open(os.path.join(self.dir, "stderr"), "wb") as stderr:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=_child_env(),
                preexec_fn=_die_with_parent,
            )
        self._wait_healthy()

    def _probe_context(self) -> ssl.SSLContext | None:
        """TLS settings of the health probe (no server verification: see the docstring)."""
        if not self.cert_file:
            return None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self._probe_cert:
            context.load_cert_chain(*self._probe_cert)
        return context

    def _pick_ports(self) -> tuple[int, int]:
        client, peer = self._ports
        if self.netns:  # a namespace of its own: the standard ports are free
            return client or 2379, peer or 2380
        return client or _free_port(self.ip), peer or _free_port(self.ip)

    def _argv(self) -> list[str]:
        assert self.dir is not None
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        peer_url = f"http://{host}:{self.peer_port}"
        return [
            shutil.which("etcd") or "etcd",
            f"--name={self.name}",
            f"--data-dir={os.path.join(self.dir, 'data')}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={self.name}={peer_url}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={os.path.basename(self.dir)}",
            "--logger=zap",
            f"--log-outputs={self.log_path}",
            "--auto-compaction-retention=0",
            *self._tls_argv(),
        ]

    def _tls_argv(self) -> list[str]:
        if not self.cert_file:
            return []
        argv = [f"--cert-file={self.cert_file}", f"--key-file={self.key_file}"]
        if self.trusted_ca_file:
            argv.append(f"--trusted-ca-file={self.trusted_ca_file}")
        if self.client_cert_auth:
            argv.append("--client-cert-auth")
        return argv

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DatastoreUnavailableError(
                    f"etcd exited with code {self._proc.returncode}: {self._last_log_line()}"
                )
            if self._healthy():
                return
            time.sleep(0.05)
        raise DatastoreUnavailableError(
            f"etcd at {self.endpoint} not healthy after {self._start_timeout:.0f} s: "
            f"{self._last_log_line()}"
        )

    def _healthy(self) -> bool:
        url = f"{self.endpoint}/health"
        if self.netns:
            probe = ["ip", "netns", "exec", self.netns, sys.executable, "-c", _PROBE, url]
            probe += self._probe_cert or ()
            return subprocess.run(probe, check=False, capture_output=True).returncode == 0
        try:
            with urllib.request.urlopen(url, timeout=1, context=self._ssl) as response:
                return b'"health":"true"' in response.read()
        except OSError:
            return False

    def _last_log_line(self) -> str:
        """etcd's last complaint: the last error in stderr or its (JSON) log."""
        assert self.dir is not None
        for name in ("stderr", "etcd.log"):
            with contextlib.suppress(OSError), open(os.path.join(self.dir, name), "rb") as handle:
                lines = handle.read().decode(errors="replace").strip().splitlines()
                errors = [line for line in lines if "error" in line or "fatal" in line]
                if errors or lines:
                    return _summarise((errors or lines)[-1])
        return "no log output"


def _summarise(line: str) -> str:
    """``msg: error`` from a zap JSON log line; the line itself otherwise."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line[:300]
    if not isinstance(entry, dict):
        return line[:300]
    parts = [str(entry[k]) for k in ("msg", "error") if entry.get(k)]
    return ": ".join(parts) or line[:300]


def _free_port(ip: str) -> int:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        port: int = sock.getsockname()[1]
        return port


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}


def _die_with_parent() -> None:
    """In the child before exec: ask for SIGTERM when the parent dies (kept across exec)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
