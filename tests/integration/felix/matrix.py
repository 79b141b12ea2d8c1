"""Connectivity matrices for felix integration tests: many probes at once, one diff.

A test names its endpoints (``{"a": Endpoint(...), ...}``) and writes, by hand,
the expected outcome of each probe::

    expect = {
        ("a", "b", 80, "tcp"): True,
        ("a", "b", 81, "tcp"): False,
        ("a", "b", 0, "icmp"): True,   # the port is ignored for icmp
    }
    assert_matrix(endpoints, expect)

All probes run concurrently: one short-lived client process per *source*
namespace (``python -c CLIENT`` under ``ip netns exec``) runs every probe of
that source in its own thread and prints the outcomes as JSON, and the sources
run in parallel too. A blocked probe costs its timeout, so a whole matrix
costs about one timeout plus one interpreter start, however many cells it has.

A TCP or UDP probe only counts as reachable when the peer answered with the
lab server's line ``<name> <proto>/<port>`` *for the intended destination*:
a reply from anything else is reported as a mismatch, not as reachable.
Policy decides on a flow's first packet, so for TCP the timeout bounds the
handshake; once connected, the client waits longer for the line (a loaded
machine can delay the server, never the verdict). UDP and ICMP have one
timeout for the round trip.

``assert_matrix`` re-runs the matrix until it matches or ``settle`` seconds
pass (felix programs the kernel asynchronously), then fails with a readable
diff of the last run: one line per wrong cell plus the full result grid.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import yaml

from calico.lab import netns
from calico.lab.workload import Workload
from tests.integration.felix.conftest import FelixHost

ProbeKey = tuple[str, str, int, str]  # (src, dst, port, proto); port 0 for icmp
Expected = Mapping[ProbeKey, bool]
PROTOCOLS = ("tcp", "udp", "icmp")
DEFAULT_TIMEOUT = 0.6  # a blocked probe costs this; a slow "reachable" one is retried
DEFAULT_SETTLE = 15.0
_CLIENT_GRACE = 15.0  # on top of the probe timeout: client start-up, a slow TCP reply

# Runs inside the source namespace. Reads [{dst, port, proto, timeout, bind}]
# on stdin, prints [[reachable, reply_or_reason], ...] in the same order.
CLIENT = r"""
import json, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
REPLY_WAIT = 5.0

def stream(job):
    deadline = time.monotonic() + job["timeout"]
    kind = socket.SOCK_STREAM if job["proto"] == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if job["bind"]:
            # IP_TRANSPARENT (19), not IP_FREEBIND: only it lets the packet leave
            # with a source address the namespace does not have.
            sock.setsockopt(socket.SOL_IP, 19, 1)
            sock.bind((job["bind"], 0))
        sock.settimeout(job["timeout"])
        sock.connect((job["dst"], job["port"]))
        if job["proto"] == "udp":
            sock.send(b"probe\n")
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        else:
            # The handshake completed, so policy let the flow through; a late
            # line only means a busy server: wait for it rather than call the
            # port blocked.
            sock.settimeout(REPLY_WAIT)
        data = sock.recv(1024)
    if not data:
        raise ConnectionError("closed without a reply")
    return data.decode(errors="replace").strip()

def one(job):
    try:
        if job["proto"] == "icmp":
            argv = ["ping", "-c1", "-n", "-q", "-W", "%g" % job["timeout"]]
            if job["bind"]:
                argv += ["-I", job["bind"]]
            done = subprocess.run(argv + [job["dst"]], capture_output=True, text=True)
            if done.returncode == 0:
                return [True, ""]
            return [False, "no echo reply"]
        return [True, stream(job)]
    except socket.timeout:
        return [False, "timeout"]
    except OSError as exc:
        return [False, exc.strerror or str(exc)]

jobs = json.load(sys.stdin)
with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
    print(json.dumps(list(pool.map(one, jobs))))
"""


@dataclass(frozen=True)
class Endpoint:
    """Something to probe from (its namespace) or to (its address).

    ``server`` is the name the lab server at ``ip`` answers with (for checking
    replies; empty means any reply will do). ``bind`` makes probes *from* this
    endpoint use that source address instead of the namespace's own choice
    (``IP_TRANSPARENT``, so the address need not be configured: a spoofed source).
    """

    netns: str
    ip: str
    server: str = ""
    bind: str = ""


@dataclass(frozen=True)
class Outcome:
    reachable: bool
    detail: str  # the reply when reachable, else why not


def _check_key(key: ProbeKey, endpoints: Mapping[str, Endpoint]) -> None:
    src, dst, _port, proto = key
    if src not in endpoints or dst not in endpoints:
        raise KeyError(f"probe {key}: unknown endpoint (known: {', '.join(sorted(endpoints))})")
    if proto not in PROTOCOLS:
        raise ValueError(f"probe {key}: protocol must be one of {PROTOCOLS}")


def run_probes(
    endpoints: Mapping[str, Endpoint], keys: list[ProbeKey], timeout: float = DEFAULT_TIMEOUT
) -> dict[ProbeKey, Outcome]:
    """Run every probe in ``keys`` concurrently; a reply from the wrong server is a failure."""
    for key in keys:
        _check_key(key, endpoints)
    by_source: dict[str, list[ProbeKey]] = {}
    for key in keys:
        by_source.setdefault(key[0], []).append(key)

    def one_source(src: str) -> list[tuple[ProbeKey, Outcome]]:
        mine = by_source[src]
        origin = endpoints[src]
        jobs = [
            {
                "dst": endpoints[dst].ip,
                "port": port,
                "proto": proto,
                "timeout": timeout,
                "bind": origin.bind,
            }
            for (_, dst, port, proto) in mine
        ]
        proc = netns.run_in_ns(
            origin.netns,
            [sys.executable, "-c", CLIENT],
            input=json.dumps(jobs),
            timeout=timeout + _CLIENT_GRACE,
        )
        raw: list[tuple[bool, str]] = json.loads(proc.stdout)
        out = []
        for key, (ok, detail) in zip(mine, raw, strict=True):
            _, dst, port, proto = key
            want = endpoints[dst].server
            if ok and proto != "icmp" and want and detail != f"{want} {proto}/{port}":
                out.append((key, Outcome(False, f"answered by the wrong server: {detail!r}")))
            else:
                out.append((key, Outcome(bool(ok), detail)))
        return out

    results: dict[ProbeKey, Outcome] = {}
    if by_source:
        with ThreadPoolExecutor(max_workers=len(by_source)) as pool:
            for pairs in pool.map(one_source, list(by_source)):
                results.update(pairs)
    return results


def _word(ok: bool) -> str:
    return "reachable" if ok else "blocked"


def _label(key: ProbeKey) -> str:
    src, dst, port, proto = key
    return f"{src} -> {dst} {proto}" + ("" if proto == "icmp" else f"/{port}")


def differences(expected: Expected, got: Mapping[ProbeKey, Outcome]) -> list[str]:
    """One line per cell whose outcome differs from the expectation."""
    lines = []
    for key, want in expected.items():
        outcome = got[key]
        if outcome.reachable != want:
            lines.append(
                f"{_label(key)}: expected {_word(want)}, got {_word(outcome.reachable)}"
                f" ({outcome.detail or 'no detail'})"
            )
    return lines


def render(expected: Expected, got: Mapping[ProbeKey, Outcome]) -> str:
    """The grid: one row per (src, dst), one column per port/protocol; ``!`` marks a mismatch."""
    services = sorted({(proto, port) for (_, _, port, proto) in expected})
    pairs = sorted({(src, dst) for (src, dst, _, _) in expected})
    heads = [proto if proto == "icmp" else f"{proto}/{port}" for proto, port in services]
    width = max([len(f"{s} -> {d}") for s, d in pairs] + [8])
    lines = [" " * width + "  " + "  ".join(f"{h:>8}" for h in heads)]
    for src, dst in pairs:
        cells = []
        for proto, port in services:
            key = (src, dst, port, proto)
            if key not in expected:
                cells.append(f"{'.':>8}")
                continue
            ok = got[key].reachable
            mark = ("ok" if ok else "--") + ("" if ok == expected[key] else "!")
            cells.append(f"{mark:>8}")
        lines.append(f"{src + ' -> ' + dst:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def check_matrix(
    endpoints: Mapping[str, Endpoint], expected: Expected, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[str], dict[ProbeKey, Outcome]]:
    """Run the matrix once: (differences, outcomes)."""
    got = run_probes(endpoints, list(expected), timeout)
    return differences(expected, got), got


def assert_matrix(
    endpoints: Mapping[str, Endpoint],
    expected: Expected,
    *,
    settle: float = DEFAULT_SETTLE,
    timeout: float = DEFAULT_TIMEOUT,
    title: str = "",
) -> None:
    """Poll until every probe in ``expected`` has its expected outcome, else fail with a diff."""
    __tracebackhide__ = True
    deadline = time.monotonic() + settle
    attempts = 0
    while True:
        attempts += 1
        diff, got = check_matrix(endpoints, expected, timeout)
        if not diff:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    heading = f"connectivity matrix {title!r}" if title else "connectivity matrix"
    raise AssertionError(
        f"{heading}: {len(diff)} of {len(expected)} probes differ after {attempts} attempt(s)"
        f" over {settle:g}s\n  "
        + "\n  ".join(diff)
        + "\n(ok = reachable, -- = blocked, ! = not as expected)\n"
        + render(expected, got)
    )


def grid(
    sources: list[str],
    dests: list[str],
    services: list[tuple[int, str]],
    allowed: Mapping[tuple[str, str], set[tuple[int, str]]],
) -> dict[ProbeKey, bool]:
    """Expand a hand-written table into probe keys.

    ``allowed[(src, dst)]`` lists the (port, proto) services expected to be
    reachable for that pair; every other combination of ``sources`` x
    ``dests`` x ``services`` (src != dst) is expected blocked. Pairs missing
    from ``allowed`` are fully blocked.
    """
    out: dict[ProbeKey, bool] = {}
    for src in sources:
        for dst in dests:
            if src == dst:
                continue
            ok = allowed.get((src, dst), set())
            for port, proto in services:
                out[(src, dst, port, proto)] = (port, proto) in ok
    return out


# --- a felix host under test, with a barrier -----------------------------------------------------

CANARY_TIER = "canary"
CANARY_POLICY = "canary.gate"
CANARY_SRC, CANARY_DST = "canary-src", "canary-dst"
SYNC_TIMEOUT = 30.0


def _doc_id(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = doc.get("metadata") or {}
    return str(doc["kind"]), str(meta["name"]), str(meta.get("namespace") or "")


def _documents(docs: tuple[Mapping[str, Any] | str, ...]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, str):
            flat += [d for d in yaml.safe_load_all(textwrap.dedent(doc)) if d]
        else:
            flat.append(dict(doc))
    return flat


class PolicyHost:
    """A :class:`FelixHost` that runs connectivity matrices, for one test module.

    * Workloads added with :meth:`add` become matrix endpoints under their
      name; every address is checked against the one the test wrote by hand.
    * :meth:`baseline` writes the module's permanent resources (profiles,
      tiers...); workload endpoints from :meth:`add` are baseline too.
    * :meth:`apply` writes resources (v3 dicts or a YAML string) and remembers
      them; :meth:`reset` deletes what tests created and rewrites any baseline
      resource a test changed, so each test starts from the module's baseline.
    * :meth:`sync` is a barrier: it toggles the policy of a private pair of
      canary workloads (their own tier, ordered first, selecting only them)
      and waits until the new port answers. Felix processes datastore
      updates in order, so once the canary changed every earlier write is in
      the dataplane too. Waiting is on *positive* evidence (a port starts to
      answer), never on a probe timing out.
    * :meth:`expect` = sync, then :func:`assert_matrix` (which still retries
      for a few seconds, for probes hit by a loaded machine).
    """

    def __init__(self, host: FelixHost) -> None:
        self.host = host
        self.endpoints: dict[str, Endpoint] = {}
        self._written: list[tuple[str, str, str]] = []
        self._baseline: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._touched: set[tuple[str, str, str]] = set()
        self._generation = 0
        self._canary_ready = False

    # --- workloads ---------------------------------------------------------------------

    def add(
        self,
        name: str,
        ip: str,
        *,
        labels: dict[str, str] | None = None,
        profiles: tuple[str, ...] = ("allow-all",),
        namespace: str = "default",
        **spec: Any,
    ) -> Workload:
        """Add workload ``name``; ``ip`` is the address the test expects it to get."""
        wl = self.host.add_workload(
            name, labels=labels or {}, profiles=profiles, namespace=namespace, **spec
        )
        assert wl.ip == ip, f"workload {name} got {wl.ip}, the test's tables assume {ip}"
        doc = self.host.endpoint_doc(wl, labels or {}, profiles, namespace, **spec)
        self._baseline[_doc_id(doc)] = doc
        self.endpoints[name] = Endpoint(wl.netns, wl.ip, server=name)
        return wl

    def wep(
        self,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        profiles: tuple[str, ...] = ("allow-all",),
        namespace: str = "default",
        **spec: Any,
    ) -> dict[str, Any]:
        """A WorkloadEndpoint document for existing workload ``name`` (to :meth:`apply`)."""
        wl = self.host.workloads[name]
        return self.host.endpoint_doc(wl, labels or {}, profiles, namespace, **spec)

    def add_canaries(self, src_ip: str, dst_ip: str) -> None:
        """The barrier's private workloads and tier (call once, before :meth:`sync`)."""
        # No profiles: until felix programs the canary policy, nothing passes.
        self.add(CANARY_SRC, src_ip, labels={"canary": "src"}, profiles=())
        self.add(CANARY_DST, dst_ip, labels={"canary": "dst"}, profiles=())
        self.host.lab.apply(
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "Tier",
                "metadata": {"name": CANARY_TIER},
                "spec": {"order": 1, "defaultAction": "Deny"},
            }
        )
        self._canary_ready = True

    # --- resources ---------------------------------------------------------------------

    def baseline(self, *docs: Mapping[str, Any] | str) -> None:
        """Write resources that every test of the module starts with."""
        flat = _documents(docs)
        self.host.lab.apply(*flat)
        for doc in flat:
            self._baseline[_doc_id(doc)] = doc

    def apply(self, *docs: Mapping[str, Any] | str) -> None:
        """Write resources (dicts, or YAML text with one or more documents), in order."""
        flat = _documents(docs)
        for doc in flat:
            key = _doc_id(doc)
            if key in self._baseline:
                self._touched.add(key)
            elif key not in self._written:
                self._written.append(key)
        self.host.lab.apply(*flat)

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        self.host.lab.delete(kind, name, namespace)
        if (kind, name, namespace) in self._written:
            self._written.remove((kind, name, namespace))

    def reset(self) -> None:
        """Back to the module's baseline: delete what tests wrote, restore endpoints."""
        for kind, name, namespace in reversed(self._written):
            self.host.lab.delete(kind, name, namespace)
        self._written.clear()
        restore = [self._baseline[key] for key in sorted(self._touched)]
        if restore:
            self.host.lab.apply(*restore)
        self._touched.clear()

    # --- waiting and checking ------------------------------------------------------------

    def sync(self, timeout: float = SYNC_TIMEOUT) -> None:
        """Return once felix has programmed everything written so far (see the class doc)."""
        assert self._canary_ready, "call add_canaries() first"
        self._generation += 1
        port = 81 if self._generation % 2 else 80
        self.host.lab.apply(
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": CANARY_POLICY},
                "spec": {
                    "tier": CANARY_TIER,
                    "order": 1,
                    "selector": "has(canary)",
                    "types": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "source": {"selector": "canary == 'src'"},
                            "destination": {"ports": [port]},
                        }
                    ],
                    "egress": [{"action": "Allow"}],
                },
            }
        )
        key: ProbeKey = (CANARY_SRC, CANARY_DST, port, "tcp")
        # The first time, also see the other port closed: proof that felix
        # programs the canaries at all (an unprogrammed host is wide open).
        other: ProbeKey = (CANARY_SRC, CANARY_DST, 161 - port, "tcp")
        keys = [key, other] if self._generation == 1 else [key]
        deadline = time.monotonic() + timeout
        while True:
            got = run_probes(self.endpoints, keys, timeout=0.5)
            outcome = got[key]
            if outcome.reachable and not (other in got and got[other].reachable):
                return
            if time.monotonic() >= deadline:
                felix = self.host.felix
                tail = felix.log()[-3000:] if felix is not None else "(felix not started)"
                raise AssertionError(
                    f"barrier: canary tcp/{port} still closed after {timeout}s "
                    f"({outcome.detail}); felix log tail:\n{tail}"
                )
            time.sleep(0.1)

    def expect(
        self,
        expected: Expected,
        *,
        title: str = "",
        endpoints: Mapping[str, Endpoint] | None = None,
        settle: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Barrier, then the matrix must equal ``expected``."""
        __tracebackhide__ = True
        self.sync()
        known = {**self.endpoints, **(endpoints or {})}
        assert_matrix(known, expected, settle=settle, timeout=timeout, title=title)
