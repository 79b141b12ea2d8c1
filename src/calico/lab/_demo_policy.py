"""The tour's policy chapters (5 to 8), as a user writes policy.

YAML shown on screen and applied with ``calicoctl apply -f`` (a subprocess,
with the lab's ``calico lab env``), the connectivity matrix before and after
each step: all open; a namespace default-deny; allow rules; a ``security``
tier whose ``Pass`` hands everything on except a quarantined workload, which
a label change (``calico lab workload label``) then cuts off. Each matrix is
checked against its truth table, retried for a few seconds since policy
reaches the dataplane asynchronously.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.syntax import Syntax

from calico.errors import CalicoError
from calico.lab import matrix
from calico.lab._demo_tour import Tour
from calico.lab.cluster import Lab
from calico.lab.pods import relabel
from calico.lab.workload import Workload

CONVERGE_TIMEOUT = 20.0
Allowed = Callable[[str, str], bool]

DEFAULT_DENY = """\
# Pods in namespace "default" accept no traffic unless a policy allows it:
# this policy selects them all and allows nothing.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: default
spec:
  selector: all()
  types:
  - Ingress
"""

ALLOW = """\
# frontend may call backend, and backend may call db, on TCP 80 only.
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-frontend-to-backend
  namespace: default
spec:
  order: 100
  selector: app == 'backend'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'frontend'
    destination:
      ports: [80]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-backend-to-db
  namespace: default
spec:
  order: 100
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'backend'
    destination:
      ports: [80]
"""

TIER = """\
# A tier evaluated before the default one. Quarantined workloads are cut off
# both ways; everything else is passed on to the next tier unchanged.
apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.quarantine
spec:
  tier: security
  order: 10
  selector: quarantine == 'true'
  types: [Ingress, Egress]
  ingress:
  - action: Deny
  egress:
  - action: Deny
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.pass-the-rest
spec:
  tier: security
  order: 20
  selector: all()
  types: [Ingress, Egress]
  ingress:
  - action: Pass
  egress:
  - action: Pass
"""


@dataclass(frozen=True)
class _Step:
    """One chapter: a policy file applied, then the matrix it must lead to."""

    file: str
    yaml: str
    title: str
    text: str
    allowed: Allowed
    what: str


def policy_chapters(tour: Tour, lab: Lab, pods: list[Workload], vm: Workload | None) -> None:
    """Chapters 5 to 8, then the quarantine; every matrix checked against its truth table."""
    workloads = [*pods, *([vm] if vm else [])]
    steps = _steps({p.name for p in pods})
    tour.chapter(
        "5. Connectivity, all open",
        "Every pod's namespace profile (kns.default) allows everything; the VM's "
        "security group (lab-open) too. The matrix probes TCP 80 from every workload "
        "to every other.",
    )
    _converge(tour, workloads, lambda s, d: True, "all open")
    with tempfile.TemporaryDirectory(prefix="calico-demo-") as tmp:
        for step in steps:
            _apply(tour, lab, Path(tmp), step.file, step.yaml, step.title, step.text)
            _converge(tour, workloads, step.allowed, step.what)
    _quarantine(tour, lab, workloads, steps[-1].allowed)


def _steps(pod_names: set[str]) -> list[_Step]:
    calls = {("frontend", "backend"), ("backend", "db")}

    def allow_rules(src: str, dst: str) -> bool:
        return dst not in pod_names or (src, dst) in calls

    return [
        _Step(
            "default-deny.yaml",
            DEFAULT_DENY,
            "6. Default deny for the pods",
            "A NetworkPolicy in namespace default selects every pod there and allows no "
            "ingress. The VM is not in that namespace: its security group still rules.",
            lambda s, d: d not in pod_names,
            "default deny",
        ),
        _Step(
            "allow.yaml",
            ALLOW,
            "7. Allow what the application needs",
            "Two policies open exactly the calls the application makes.",
            allow_rules,
            "allow rules",
        ),
        _Step(
            "tier.yaml",
            TIER,
            "8. A tier with Pass",
            "Tiers are evaluated in order. The security tier passes every workload on to "
            "the default tier (nothing changes) unless it carries quarantine=true.",
            allow_rules,
            "security tier passes everything on",
        ),
    ]


def _quarantine(tour: Tour, lab: Lab, workloads: list[Workload], allowed: Allowed) -> None:
    """Label backend quarantine=true: the security tier cuts it off both ways."""
    tour.console.print(
        f"[dim]$ calico lab workload label --name {tour.name} backend quarantine=true[/]"
    )
    labels = relabel(lab, "backend", ["quarantine=true"])
    tour.console.print("backend: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    _converge(
        tour,
        workloads,
        lambda s, d: "backend" not in (s, d) and allowed(s, d),
        "backend quarantined",
    )


def _apply(tour: Tour, lab: Lab, tmp: Path, file: str, yaml: str, title: str, text: str) -> None:
    """Show the YAML and apply it as a user would: calicoctl apply -f, with the lab's env."""
    tour.chapter(title, text)
    path = tmp / file
    path.write_text(yaml)
    tour.console.print(Syntax(yaml.rstrip(), "yaml", theme="ansi_dark"))
    tour.console.print(f"[dim]$ calicoctl apply -f {file}[/]")
    calicoctl = [str(Path(sys.executable).parent / "calicoctl"), "apply", "-f", str(path)]
    if lab.datastore_netns:
        calicoctl = ["ip", "netns", "exec", lab.datastore_netns, *calicoctl]
    env = {**os.environ, **lab.datastore_env()}
    proc = subprocess.run(calicoctl, env=env, capture_output=True, text=True, timeout=60)
    tour.console.print(escape((proc.stdout + proc.stderr).strip()))
    if not tour.check(f"calicoctl apply -f {file}", proc.returncode == 0):
        raise CalicoError(f"calicoctl apply -f {file} failed: {proc.stderr.strip()}")


def _converge(tour: Tour, workloads: list[Workload], allowed: Allowed, what: str) -> None:
    """Probe until the matrix matches ``allowed`` (policy lands asynchronously), then show it."""
    expected = matrix.expected([w.name for w in workloads], allowed)
    started = time.monotonic()
    with tour.console.status(f"Probing: expecting {what}"):
        while True:
            result = matrix.run(workloads)
            late = time.monotonic() - started > CONVERGE_TIMEOUT
            if late or not result.differences(expected):
                break
            time.sleep(0.5)
    tour.console.print(matrix.table(result, expected))
    diffs = result.differences(expected)
    detail = "; ".join(diffs[:3]) if diffs else f"after {time.monotonic() - started:.1f}s"
    tour.check(f"matrix: {what}", not diffs, detail)
