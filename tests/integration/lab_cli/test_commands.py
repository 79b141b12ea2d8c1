"""Every ``calico lab`` command on one shared 2-host lab, as a user runs them."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator

import pytest

from calico.lab import netns

from .conftest import Run, last_line, unique, wait_for

pytestmark = pytest.mark.root

POOL = ipaddress.ip_network("10.244.0.0/16")


@pytest.fixture
def workloads(calico: Run, shared_lab: str) -> Iterator[list[str]]:
    """Workload names appended here are removed after the test."""
    names: list[str] = []
    yield names
    for name in names:
        calico("lab", "workload", "rm", "--name", shared_lab, name)


def add(calico: Run, lab: str, host: str, name: str, *extra: str) -> str:
    proc = calico("lab", "workload", "add", "--name", lab, host, name, *extra)
    assert proc.returncode == 0, proc.stderr
    return last_line(proc.stdout)


def ctl(calico: Run, lab: str, *args: str) -> subprocess.CompletedProcess[str]:
    """calicoctl after ``eval "$(calico lab env)"``, in a shell as a user would."""
    env = calico("lab", "env", "--name", lab)
    assert env.returncode == 0, env.stderr
    script = f'{env.stdout}\ncalicoctl "$@"'
    return subprocess.run(
        ["bash", "-c", script, "calicoctl", *args], capture_output=True, text=True, timeout=60
    )


def test_up_again_changes_nothing_and_refuses_other_settings(calico: Run, shared_lab: str) -> None:
    again = calico("lab", "up", "--name", shared_lab, "--hosts", "2")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    other = calico("lab", "up", "--name", shared_lab, "--hosts", "3")
    assert other.returncode == 1
    assert "other settings" in other.stderr
    assert "Traceback" not in other.stderr


def test_status_shows_hosts_sessions_and_workloads(
    calico: Run, shared_lab: str, workloads: list[str]
) -> None:
    name = unique("st")
    workloads.append(name)
    ip = add(calico, shared_lab, "host2", name)
    status = calico("lab", "status", "--name", shared_lab)
    assert status.returncode == 0, status.stdout + status.stderr
    for text in ("host1", "host2", "Established", "node-to-node mesh", name, ip):
        assert text in status.stdout


def test_env_makes_calicoctl_work(calico: Run, shared_lab: str) -> None:
    env = calico("lab", "env", "--name", shared_lab).stdout
    assert "export DATASTORE_TYPE=sqlite" in env
    assert "export CALICO_SQLITE_PATH=" in env
    nodes = ctl(calico, shared_lab, "get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    assert {"host1", "host2"} <= set(nodes.stdout.split())


def test_workload_add_in_a_namespace_with_labels_and_ports(
    calico: Run, shared_lab: str, workloads: list[str]
) -> None:
    ns, name, client = unique("ns"), unique("web"), unique("cl")
    made = calico("lab", "namespace", "add", "--name", shared_lab, ns, "--labels", "team=blue")
    assert made.returncode == 0, made.stderr
    workloads += [name, client]
    ip = add(
        calico,
        shared_lab,
        "host1",
        name,
        "--namespace",
        ns,
        "--labels",
        "app=web,tier=1",
        "--port",
        "http=8080/tcp",
        "--port",
        "dns=5353/udp",
    )
    assert ipaddress.ip_address(ip) in POOL
    add(calico, shared_lab, "host2", client)

    wep = json.loads(ctl(calico, shared_lab, "get", "wep", "-n", ns, "-o", "json").stdout)
    item = wep["items"][0] if "items" in wep else wep
    assert item["metadata"]["labels"]["app"] == "web"
    assert item["spec"]["profiles"] == [f"kns.{ns}"]
    ports = {(p["name"], p["port"], p["protocol"]) for p in item["spec"]["ports"]}
    assert ports == {("http", 8080, "TCP"), ("dns", 5353, "UDP")}
    profile = json.loads(
        ctl(calico, shared_lab, "get", "profile", f"kns.{ns}", "-o", "json").stdout
    )
    assert profile["spec"]["labelsToApply"]["pcns.team"] == "blue"

    for port, protocol in (("8080", "tcp"), ("5353", "udp"), ("81", "udp")):
        probe = calico(
            "lab",
            "probe",
            "--name",
            shared_lab,
            client,
            name,
            "--port",
            port,
            "--protocol",
            protocol,
        )
        assert probe.returncode == 0, probe.stdout + probe.stderr


def test_workload_add_refuses_bad_input(calico: Run, shared_lab: str) -> None:
    missing_ns = calico(
        "lab",
        "workload",
        "add",
        "--name",
        shared_lab,
        "host1",
        unique("x"),
        "--namespace",
        "nosuchns",
    )
    assert missing_ns.returncode == 1
    assert "calico lab namespace add nosuchns" in missing_ns.stderr
    bad_port = calico(
        "lab", "workload", "add", "--name", shared_lab, "host1", unique("x"), "--port", "8080"
    )
    assert bad_port.returncode == 1
    assert "NAME=PORT/PROTO" in bad_port.stderr
    bad_host = calico("lab", "workload", "add", "--name", shared_lab, "host9", unique("x"))
    assert bad_host.returncode == 1
    assert "host9" in bad_host.stderr
    no_lab = calico("lab", "workload", "add", "--name", "nosuchlab", "host1", "x")
    assert no_lab.returncode == 1
    assert "calico lab up --name nosuchlab" in no_lab.stderr


def test_probe_exit_codes(calico: Run, shared_lab: str, workloads: list[str]) -> None:
    a, b = unique("pa"), unique("pb")
    workloads += [a, b]
    add(calico, shared_lab, "host1", a)
    ip_b = add(calico, shared_lab, "host2", b)

    def probe(*args: str) -> int:
        return calico("lab", "probe", "--name", shared_lab, *args).returncode

    assert probe(a, b) == 0
    assert probe(a, ip_b, "--protocol", "icmp") == 0
    assert probe(a, b, "--port", "9999", "--timeout", "0.5") == 1  # nothing listens there
    assert probe(a, "10.244.255.254", "--timeout", "0.3") == 1  # no such workload
    assert probe("nosuch", b) == 2
    assert probe(a, "nosuch") == 2
    assert probe(a, b, "--protocol", "gre") == 2
    assert calico("lab", "probe", "--name", "nosuchlab", a, b).returncode == 2


def test_exec_runs_in_the_workload_and_keeps_the_exit_code(
    calico: Run, shared_lab: str, workloads: list[str]
) -> None:
    name = unique("ex")
    workloads.append(name)
    ip = add(calico, shared_lab, "host1", name)
    shown = calico("lab", "exec", "--name", shared_lab, name, "--", "ip", "-4", "addr", "show")
    assert shown.returncode == 0
    assert f"{ip}/32" in shown.stdout
    failed = calico("lab", "exec", "--name", shared_lab, name, "--", "sh", "-c", "exit 7")
    assert failed.returncode == 7
    on_host = calico("lab", "exec", "--name", shared_lab, "host1", "--", "ip", "route")
    assert f"{ip} dev cali" in on_host.stdout


def test_matrix_follows_policy_and_labels(
    calico: Run, shared_lab: str, workloads: list[str]
) -> None:
    tag = unique("m")
    names = {role: f"{tag}-{role}" for role in ("a", "b", "c")}
    for (role, name), host in zip(names.items(), ("host1", "host2", "host1"), strict=True):
        workloads.append(name)
        add(calico, shared_lab, host, name, "--labels", f"test={tag},role={role}")
    policy = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": f"only-from-a-{tag}"},
        "spec": {
            "selector": f"test == '{tag}'",
            "types": ["Ingress"],
            "ingress": [{"action": "Allow", "source": {"selector": "role == 'a'"}}],
        },
    }
    applied = subprocess.run(
        [
            "bash",
            "-c",
            calico("lab", "env", "--name", shared_lab).stdout + "\ncalicoctl apply -f -",
        ],
        input=json.dumps(policy),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr

    def ours() -> dict[str, dict[str, bool]]:
        out = calico("lab", "matrix", "--name", shared_lab, "-o", "json", "--timeout", "0.5")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert (data["port"], data["protocol"]) == (80, "tcp")
        mine = set(names.values())
        return {
            s: {d: ok for d, ok in row.items() if d in mine}
            for s, row in data["results"].items()
            if s in mine
        }

    def truth(senders: set[str]) -> dict[str, dict[str, bool]]:
        return {names[s]: {names[d]: s in senders for d in names if d != s} for s in names}

    wait_for(lambda: ours() == truth({"a"}), what="only a reaches the others")
    relabel = calico("lab", "workload", "label", "--name", shared_lab, names["c"], "role=a")
    assert relabel.returncode == 0, relabel.stderr
    wait_for(lambda: ours() == truth({"a", "c"}), what="c, relabelled role=a, reaches b")
    removed = calico("lab", "workload", "label", "--name", shared_lab, names["c"], "role-")
    assert removed.returncode == 0
    assert "role" not in removed.stdout.replace("projectcalico", "")
    ctl(calico, shared_lab, "delete", "globalnetworkpolicy", f"only-from-a-{tag}")


def test_matrix_table_marks_reachability(
    calico: Run, shared_lab: str, workloads: list[str]
) -> None:
    a, b = unique("ta"), unique("tb")
    workloads += [a, b]
    add(calico, shared_lab, "host1", a)
    add(calico, shared_lab, "host2", b)
    table = calico("lab", "matrix", "--name", shared_lab, "--protocol", "udp", "--port", "81")
    assert table.returncode == 0, table.stderr
    assert "UDP port 81" in table.stdout
    row = next(line for line in table.stdout.splitlines() if line.startswith(f"│ {a} "))
    assert "✓" in row


def test_workload_rm_removes_everything(calico: Run, shared_lab: str) -> None:
    name = unique("rm")
    add(calico, shared_lab, "host1", name)
    gone = calico("lab", "workload", "rm", "--name", shared_lab, name)
    assert gone.returncode == 0, gone.stderr
    assert not netns.exists(f"{shared_lab}-wl-{name}")
    assert name not in ctl(calico, shared_lab, "get", "wep").stdout
    assert name not in calico("lab", "status", "--name", shared_lab).stdout
    again = calico("lab", "workload", "rm", "--name", shared_lab, name)
    assert again.returncode == 1
    assert f"no workload {name!r}" in again.stderr


def test_vm_through_openstack_and_dhcp(calico: Run, shared_lab: str, workloads: list[str]) -> None:
    pytest.importorskip("neutron_lib")  # the ML2 driver's (the `openstack` extra)
    vm, pod = unique("vm"), unique("po")
    workloads += [vm, pod]
    added = calico(
        "lab", "workload", "add", "--name", shared_lab, "host2", vm, "--vm", "--labels", "app=vm"
    )
    assert added.returncode == 0, added.stderr
    ip = last_line(added.stdout)
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.65.0.0/16")
    add(calico, shared_lab, "host1", pod)
    for src, dst in ((pod, vm), (vm, pod)):
        probe = calico("lab", "probe", "--name", shared_lab, src, dst)
        assert probe.returncode == 0, probe.stdout + probe.stderr
    weps = ctl(calico, shared_lab, "get", "wep", "-n", "openstack", "-o", "json").stdout
    assert '"app": "vm"' in weps
    assert '"orchestrator": "openstack"' in weps
    assert calico("lab", "workload", "rm", "--name", shared_lab, vm).returncode == 0
    workloads.remove(vm)
    assert ip not in ctl(calico, shared_lab, "get", "wep", "-n", "openstack").stdout
