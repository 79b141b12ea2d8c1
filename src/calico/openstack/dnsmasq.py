"""One dnsmasq per host serving the VMs' taps in routed mode.

networking-calico's ``DnsmasqRouted`` and ``RoutedInterfaceDriver``, minus
Neutron's agent framework.  The problem they solve: a tap has no address
(the host routes each VM's /32 to it; there is no subnet on the link), yet
dnsmasq picks the DHCP range for a request by the addresses of the
interface it arrived on.  So:

- a *holder* interface (``ns-dhcp``, see ``dhcp_iface.py``) carries the
  gateway IP of every subnet served, as a /32: the VMs' gateway then is
  local to every host, and the /32 adds no subnet route that would compete
  with the VMs' /32 routes;
- ``--bridge-interface=ns-dhcp,tap*`` makes dnsmasq treat a request that
  arrives on any tap as arriving on the holder, and reply through the tap;
- ``--dhcp-range=set:subnet-<id>,<network>,static,<netmask>`` per subnet:
  ``static`` hands out only the reservations (one ``<mac>,<ip>`` line per
  port in the hosts file), and the explicit netmask lets the /32 gateway
  address match the whole subnet;
- per-subnet options (tag ``subnet-<id>``): router = the gateway, DNS
  servers, and host routes as classless static routes (121, and 249 for
  old Windows) which then must repeat the default route, as clients ignore
  the router option when 121 is present (RFC 3442).

DNS is off (``--port=0``): VMs get the subnet's DNS servers.  The hosts and
options files are re-read on SIGHUP; a change to the command line (a
subnet added or removed) needs a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from calico.errors import DataplaneError
from calico.openstack.dhcp_model import DhcpConfig, DhcpSubnet

_log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 86400  # Neutron's dhcp_lease_duration
WINDOWS_STATIC_ROUTES = 249  # Microsoft's classless static route option
_START_TIMEOUT = 5.0
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class DnsmasqSettings:
    state_dir: Path
    holder: str = "ns-dhcp"
    binary: str = "dnsmasq"
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    user: str | None = None  # dnsmasq drops root for this user (its default: nobody/dnsmasq)

    @property
    def hosts_file(self) -> Path:
        return self.state_dir / "hosts"

    @property
    def opts_file(self) -> Path:
        return self.state_dir / "opts"

    @property
    def leases_file(self) -> Path:
        return self.state_dir / "leases"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "dnsmasq.pid"


def _tag(subnet: DhcpSubnet) -> str:
    return f"subnet-{subnet.id}"


def command_line(config: DhcpConfig, settings: DnsmasqSettings) -> list[str]:
    """dnsmasq's argv for ``config`` (a function of its subnets only)."""
    argv = [
        settings.binary,
        "--keep-in-foreground",
        "--conf-file=/dev/null",  # ignore the distribution's /etc/dnsmasq.conf
        "--port=0",  # no DNS service
        "--no-hosts",
        "--no-resolv",
        "--bind-dynamic",
        "--except-interface=lo",
        f"--interface={settings.holder}",
        "--interface=tap*",
        f"--bridge-interface={settings.holder},tap*",
        "--dhcp-authoritative",
        f"--dhcp-hostsfile={settings.hosts_file}",
        f"--dhcp-optsfile={settings.opts_file}",
        f"--dhcp-leasefile={settings.leases_file}",
        f"--pid-file={settings.pid_file}",
        "--log-facility=-",
        "--log-dhcp",
    ]
    if settings.user:
        argv.append(f"--user={settings.user}")
    for subnet in config.subnets:
        net = subnet.cidr
        argv.append(
            f"--dhcp-range=set:{_tag(subnet)},{net.network_address},static,"
            f"{net.netmask},{settings.lease_seconds}s"
        )
    return argv


def hosts_file(config: DhcpConfig) -> str:
    return "".join(f"{h.mac},{h.ip}\n" for h in config.hosts)


def opts_file(config: DhcpConfig) -> str:
    lines: list[str] = []
    for subnet in config.subnets:
        tag = f"tag:{_tag(subnet)}"
        if subnet.gateway:
            lines.append(f"{tag},option:router,{subnet.gateway}")
        if subnet.dns_servers:
            lines.append(f"{tag},option:dns-server,{','.join(subnet.dns_servers)}")
        routes = _static_routes(subnet)
        if routes:
            lines.append(f"{tag},option:classless-static-route,{routes}")
            lines.append(f"{tag},{WINDOWS_STATIC_ROUTES},{routes}")
    return "".join(line + "\n" for line in lines)


def _static_routes(subnet: DhcpSubnet) -> str:
    routes = [(d, hop) for d, hop in subnet.host_routes if ipaddress.ip_network(d).version == 4]
    if not routes:
        return ""
    if subnet.gateway and not any(ipaddress.ip_network(d).prefixlen == 0 for d, _ in routes):
        routes.append(("0.0.0.0/0", subnet.gateway))
    return ",".join(f"{dst},{hop}" for dst, hop in routes)


class Dnsmasq:
    """A dnsmasq child process kept in step with a :class:`DhcpConfig`."""

    def __init__(self, settings: DnsmasqSettings) -> None:
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self._argv: list[str] = []
        self._files: tuple[str, str] = ("", "")

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def apply(self, config: DhcpConfig) -> None:
        """Serve ``config``: start, restart, SIGHUP or stop dnsmasq as needed."""
        if not config.hosts:
            self.stop()
            return
        files = (hosts_file(config), opts_file(config))
        if files != self._files:
            self._write_files(files)
        argv = command_line(config, self.settings)
        if not self.running or argv != self._argv:
            self.stop()
            self._start(argv)
        elif files != self._files:
            _log.info("dnsmasq: reloading %d reservation(s)", len(config.hosts))
            self._signal(signal.SIGHUP)
        self._files = files

    def _write_files(self, files: tuple[str, str]) -> None:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        paths = (self.settings.hosts_file, self.settings.opts_file)
        for path, text in zip(paths, files, strict=True):
            # Readable by the unprivileged user dnsmasq re-reads them as.
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o644)
            os.replace(tmp, path)

    def _start(self, argv: list[str]) -> None:
        self.settings.pid_file.unlink(missing_ok=True)
        _log.info("dnsmasq: starting: %s", " ".join(argv))
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise DataplaneError(f"cannot run {argv[0]}: {exc.strerror}") from None
        self._argv = argv
        self._wait_started()

    def _wait_started(self) -> None:
        # dnsmasq writes its pid file once its sockets are open.
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc, self._argv = None, []
                raise DataplaneError(f"dnsmasq exited with status {code} at start-up")
            if _read_pid(self.settings.pid_file) == self._proc.pid:
                return
            time.sleep(0.02)
        self.stop()
        raise DataplaneError(f"dnsmasq did not start within {_START_TIMEOUT}s")

    def _signal(self, signum: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signum)

    def stop(self) -> None:
        """Stop our dnsmasq (SIGTERM, then SIGKILL); nothing if none runs."""
        proc, self._proc, self._argv, self._files = self._proc, None, [], ("", "")
        if proc is None:
            return
        if proc.poll() is None:
            _log.info("dnsmasq: stopping pid %d", proc.pid)
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.settings.pid_file.unlink(missing_ok=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
