"""IP set membership: contributions from every endpoint and network set, refcounted."""

from __future__ import annotations

from calico.felix.calc.ipset_members import IPSetMemberIndex
from calico.felix.calc.model import (
    EndpointModel,
    NamedPort,
    NetworkSetID,
    NetworkSetModel,
    WorkloadEndpointKey,
)
from calico.felix.messages import WorkloadEndpoint
from calico.selector import parse


class Members:
    """Records member callbacks and checks they are balanced."""

    def __init__(self) -> None:
        self.sets: dict[str, set[str]] = {}
        self.index = IPSetMemberIndex(self.added, self.removed)

    def added(self, set_id: str, member: str) -> None:
        assert member not in self.sets.setdefault(set_id, set())
        self.sets[set_id].add(member)

    def removed(self, set_id: str, member: str) -> None:
        self.sets[set_id].remove(member)


def endpoint(
    name: str, nets: tuple[str, ...], labels: dict[str, str], ports: tuple[NamedPort, ...] = ()
) -> EndpointModel:
    endpoint_id = WorkloadEndpointKey("any-host", "k8s", f"ns1/{name}", "eth0")
    payload = WorkloadEndpoint(name=f"cali{name}")
    return EndpointModel(endpoint_id, "any-host", labels, (), nets, ports, payload)


def test_members_are_deduplicated_across_contributors() -> None:
    m = Members()
    m.index.update_ipset("s", parse("app == 'web'"))
    m.index.update_endpoint(endpoint("a", ("10.0.0.1/32",), {"app": "web"}))
    # A second endpoint claiming the same IP (e.g. mid-migration) adds nothing new...
    m.index.update_endpoint(endpoint("b", ("10.0.0.1/32", "10.0.0.2/32"), {"app": "web"}))
    assert m.sets["s"] == {"10.0.0.1/32", "10.0.0.2/32"}
    # ...and removing one contributor keeps the shared member.
    m.index.delete_item(endpoint("a", (), {}).id)
    assert m.sets["s"] == {"10.0.0.1/32", "10.0.0.2/32"}
    m.index.update_endpoint(endpoint("b", ("10.0.0.2/32",), {"app": "web"}))  # address change only
    assert m.sets["s"] == {"10.0.0.2/32"}
    assert m.index.members("s") == frozenset({"10.0.0.2/32"})


def test_named_ports_by_protocol() -> None:
    m = Members()
    ports = (
        NamedPort("http", "tcp", 8080),
        NamedPort("dns", "udp", 53),
        NamedPort("http", "udp", 8081),
    )
    m.index.update_endpoint(endpoint("a", ("10.0.0.1/32", "fd00::1/128"), {"app": "web"}, ports))
    m.index.update_ipset("tcp-http", parse("app == 'web'"), "http", "tcp")
    m.index.update_ipset("any-http", parse("all()"), "http", "any")
    m.index.update_ipset("tcp-dns", parse("all()"), "dns", "tcp")
    assert m.sets["tcp-http"] == {"10.0.0.1,tcp:8080", "fd00::1,tcp:8080"}
    assert m.sets["any-http"] == {
        "10.0.0.1,tcp:8080",
        "fd00::1,tcp:8080",
        "10.0.0.1,udp:8081",
        "fd00::1,udp:8081",
    }
    assert m.sets.get("tcp-dns", set()) == set()


def test_network_sets_and_profile_inheritance() -> None:
    m = Members()
    m.index.update_ipset("s", parse("role == 'blocked'"))
    netset = NetworkSetModel(
        NetworkSetID("ns1/bad"), {"x": "y"}, ("192.168.0.0/16", "0.0.0.0/0"), ("kns.ns1",)
    )
    m.index.update_network_set(netset)
    assert m.sets.get("s", set()) == set()
    m.index.update_parent("kns.ns1", {"role": "blocked"})  # inherited from the namespace profile
    # A /0 cannot go in a hash:net set: split in two, as Calico does.
    assert m.sets["s"] == {"192.168.0.0/16", "0.0.0.0/1", "128.0.0.0/1"}
    m.index.delete_parent("kns.ns1")
    assert m.sets["s"] == set()


def test_deleting_a_set_is_silent_and_re_adding_rescans() -> None:
    m = Members()
    m.index.update_endpoint(endpoint("a", ("10.0.0.1/32",), {}))
    m.index.update_ipset("s", parse("all()"))
    assert m.sets["s"] == {"10.0.0.1/32"}
    m.sets.clear()
    m.index.delete_ipset("s")
    assert m.sets == {}  # no per-member removals for a set going away
    m.index.update_ipset("s", parse("all()"))
    assert m.sets["s"] == {"10.0.0.1/32"}
