"""``calico-node``: start-up, then supervise felix, calico-bgp and BIRD on this host.

::

    calico-node [--name NAME] [--state-dir DIR] [--log-dir DIR]
                [--bird-config-dir DIR] [--bird-socket PATH] [--mtu-file PATH]
                [--no-bgp] [--startup-only] [--log-level LEVEL]

1. Start-up (``startup``): register the Node, default pools, cluster
   defaults; tunnel addresses (``tunnels``); the MTU file; the node name file.
2. Unless ``--startup-only`` (Calico's ``calico-node -startup``): run
   ``calico-felix``, and unless ``--no-bgp`` or ``CALICO_NETWORKING_BACKEND``
   is ``vxlan`` or ``none``, ``calico-bgp`` and ``bird``, under the
   ``Supervisor``, until SIGTERM or SIGINT; then stop them and exit 0.
   Meanwhile a thread keeps the tunnel addresses and MTU in step with the
   pools, and, on sqlite, another compacts the revision log every few
   minutes (as kine does; nothing else compacts it).

Files (one state dir per host, so that lab hosts sharing one file system
never collide; ``CALICO_NODE_STATE_DIR`` / ``CALICO_NODE_LOG_DIR`` set the
defaults):

* ``<state-dir>/nodename``: the node name, for tools run later on this host;
* ``<state-dir>/mtu``: the workload MTU for the CNI plugin (``--mtu-file``;
  host interfaces matching ``FELIX_MTUIFACEPATTERN``, as Felix picks them);
* ``<state-dir>/status.json``: the children (pid, running, ready, restarts);
* ``<state-dir>/bird.pid``; ``<log-dir>/<child>.log``: each child's output.

The datastore comes from the environment (``DATASTORE_TYPE``,
``CALICO_SQLITE_PATH``, ``ETCD_*``), which the children inherit, plus
``NODENAME``.  Every user error ends in one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from calico.bgp.bird_process import CONFIG_NAME, DEFAULT_CONFIG_DIR, DEFAULT_SOCKET, bird_argv
from calico.bgp.birdcl import BirdClient
from calico.client import Client
from calico.datastore import Datastore, DatastoreConfig, open_datastore
from calico.errors import CalicoError, ConfigError
from calico.node.startup import NodeEnv, run_startup
from calico.node.supervisor import ChildSpec, Supervisor
from calico.node.tunnels import (
    DEFAULT_MTU_IFACE_PATTERN,
    TunnelAllocator,
    TunnelKeeper,
    write_mtu_file,
)

_log = logging.getLogger("calico-node")
_LOG_FORMAT = "%(asctime)s [%(levelname)s] calico-node %(name)s: %(message)s"

DEFAULT_STATE_DIR = "/var/lib/calico"
DEFAULT_LOG_DIR = "/var/log/calico"
COMPACT_INTERVAL = 300.0  # seconds between compactions of the sqlite log
COMPACT_KEEP = 1000  # revisions of history kept for slow watchers

# calico.felix.daemon.EXIT_CONFIG_CHANGED (not imported: it would load felix here).
FELIX_RESTART_EXIT_CODE = 129


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage text plus the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    parser = _Parser(prog="calico-node", description="Calico per-host start-up and supervisor.")
    parser.add_argument("--name", help="node name (default $NODENAME, <state-dir>/nodename, "
                        "then the host name)")  # fmt: skip
    parser.add_argument(
        "--state-dir", default=env.get("CALICO_NODE_STATE_DIR") or DEFAULT_STATE_DIR,
        help=f"per-host state (default $CALICO_NODE_STATE_DIR or {DEFAULT_STATE_DIR})",
    )  # fmt: skip
    parser.add_argument(
        "--log-dir", default=env.get("CALICO_NODE_LOG_DIR") or DEFAULT_LOG_DIR,
        help=f"children's logs (default $CALICO_NODE_LOG_DIR or {DEFAULT_LOG_DIR})",
    )  # fmt: skip
    parser.add_argument(
        "--bird-config-dir", default=DEFAULT_CONFIG_DIR,
        help=f"where calico-bgp writes bird.cfg (default {DEFAULT_CONFIG_DIR})",
    )  # fmt: skip
    parser.add_argument("--bird-socket", default=DEFAULT_SOCKET,
                        help=f"BIRD control socket (default {DEFAULT_SOCKET})")  # fmt: skip
    parser.add_argument("--mtu-file", help="workload MTU file (default <state-dir>/mtu)")
    parser.add_argument("--no-bgp", action="store_true",
                        help="run no calico-bgp or BIRD (e.g. VXLAN only)")  # fmt: skip
    parser.add_argument("--startup-only", action="store_true",
                        help="do the start-up steps and exit")  # fmt: skip
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    args = parse_args(argv, env)
    logging.basicConfig(level=args.log_level, format=_LOG_FORMAT, stream=sys.stderr)
    try:
        return run(args, env)
    except (CalicoError, OSError) as exc:
        print(f"calico-node: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    node_env = NodeEnv.from_env(env)  # bad env fails before anything is written
    state_dir = Path(args.state_dir)
    name = node_name(args.name, env, state_dir)
    config = DatastoreConfig.from_env(env)
    store = open_datastore(config)
    with store:
        client = Client(store)
        node = run_startup(client, name, node_env)
        _log.info("Node %s registered: %s", name, node.to_dict().get("spec", {}).get("bgp"))
        allocator = TunnelAllocator(client, name)
        write_mtu = functools.partial(
            write_mtu_file,
            client,
            args.mtu_file or str(state_dir / "mtu"),
            env.get("FELIX_MTUIFACEPATTERN") or DEFAULT_MTU_IFACE_PATTERN,
        )
        _initial_tunnels(allocator, write_mtu)
        _write_atomically(state_dir / "nodename", f"{name}\n")
        if args.startup_only:
            return 0
        run_bgp = node_env.runs_bgp and not args.no_bgp
        keeper = TunnelKeeper(allocator, write_mtu)
        supervisor = Supervisor(
            child_specs(name, args, env, run_bgp),
            args.log_dir,
            state_dir / "status.json",
            status_extra={"node": name},
        )
        supervise(supervisor, keeper, store if config.type == "sqlite" else None)
    return 0


def node_name(explicit: str | None, env: Mapping[str, str], state_dir: Path) -> str:
    """Calico's ``DetermineNodeName``: flag, NODENAME, the name file, HOSTNAME, host name."""
    name = (explicit or env.get("NODENAME", "")).strip()
    if not name:
        try:
            name = (state_dir / "nodename").read_text().strip()
        except FileNotFoundError:
            name = ""
    name = name or env.get("HOSTNAME", "").strip() or socket.gethostname().strip().lower()
    if not name:
        raise ConfigError("cannot determine the node name: use --name or set NODENAME")
    return name


def _initial_tunnels(allocator: TunnelAllocator, write_mtu: Callable[[], int]) -> None:
    # Neither failure is fatal: felix copes without a tunnel address, the
    # keeper retries, and the CNI plugin falls back to its own MTU.
    try:
        allocator.reconcile()
    except CalicoError as exc:
        _log.warning("Could not set up tunnel addresses yet: %s", exc)
    try:
        write_mtu()
    except (CalicoError, OSError) as exc:
        _log.warning("Could not write the MTU file: %s", exc)


# -- the children ---------------------------------------------------------------


def child_specs(
    name: str, args: argparse.Namespace, env: Mapping[str, str], run_bgp: bool
) -> list[ChildSpec]:
    child_env = {**env, "NODENAME": name}
    felix = program("calico-felix", "calico.felix.main")
    felix_spec = ChildSpec(
        "calico-felix",
        felix,
        child_env,
        is_ready=felix_readiness_probe(env),
        restart_now_codes=frozenset({FELIX_RESTART_EXIT_CODE}),
    )
    specs = [felix_spec]
    if not run_bgp:
        return specs
    config = Path(args.bird_config_dir) / CONFIG_NAME
    sock = str(args.bird_socket)
    Path(sock).parent.mkdir(parents=True, exist_ok=True)
    bgp_argv = [*program("calico-bgp", "calico.bgp.main"), "--node", name,
                "--config-dir", str(args.bird_config_dir), "--socket", sock]  # fmt: skip
    specs.append(ChildSpec("calico-bgp", bgp_argv, child_env, is_ready=config.exists))
    specs.append(
        ChildSpec(
            "bird",
            bird_argv(config, sock, Path(args.state_dir) / "bird.pid"),
            child_env,
            can_start=config.exists,  # BIRD cannot run without calico-bgp's config
            is_ready=lambda: _bird_answers(sock),
            graceful_stop=lambda: _bird_graceful_restart(sock),
        )
    )
    return specs


def program(script: str, module: str) -> list[str]:
    """Our console script beside this Python, else on PATH, else ``python -m``."""
    beside = Path(sys.executable).parent / script
    if beside.exists():
        return [str(beside)]
    found = shutil.which(script)
    return [found] if found else [sys.executable, "-m", module]


def felix_readiness_probe(env: Mapping[str, str]) -> Callable[[], bool] | None:
    """Felix's ``/readiness`` endpoint when ``FELIX_HEALTHENABLED`` turns it on;
    otherwise None (a running felix counts as ready)."""
    if env.get("FELIX_HEALTHENABLED", "").strip().lower() not in ("true", "1", "yes"):
        return None
    host = env.get("FELIX_HEALTHHOST", "").strip() or "localhost"
    port = env.get("FELIX_HEALTHPORT", "").strip() or "9099"
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/readiness"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as reply:
                return bool(reply.status == 200)
        except OSError:  # refused, or HTTPError 503 "not ready"
            return False

    return ready


def _bird_answers(sock: str) -> bool:
    with BirdClient(sock, timeout=1.0) as bird:
        bird.show_status()
    return True


def _bird_graceful_restart(sock: str) -> None:
    # BIRD's "graceful restart" exits without withdrawing anything: the
    # kernel keeps its routes (``persist``) and peers keep ours as stale
    # until we are back, so restarting calico-node does not cut traffic.
    with BirdClient(sock, timeout=2.0) as bird:
        bird.command("graceful restart")


# -- running ------------------------------------------------------------------


def supervise(supervisor: Supervisor, keeper: TunnelKeeper, compact: Datastore | None) -> None:
    """Run until SIGTERM/SIGINT, with the tunnel keeper (and compaction) alongside."""
    stop = threading.Event()
    _stop_on_signals(stop)
    threads = [threading.Thread(target=keeper.run, args=(stop,), name="tunnels", daemon=True)]
    if compact is not None:
        threads.append(threading.Thread(target=compact_periodically, args=(compact, stop),
                                        name="compact", daemon=True))  # fmt: skip
    for thread in threads:
        thread.start()
    supervisor.run(stop)
    for thread in threads:
        thread.join(timeout=5.0)
    _log.info("Stopped")


def compact_periodically(
    store: Datastore,
    stop: threading.Event,
    interval: float = COMPACT_INTERVAL,
    keep: int = COMPACT_KEEP,
) -> None:
    """Drop revision history older than ``keep`` revisions, every ``interval``."""
    while not stop.wait(interval):
        try:
            target = store.current_revision() - keep
            if target > 1:
                store.compact(target)
        except CalicoError as exc:
            _log.warning("Compaction failed: %s", exc)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        _log.info("Signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
