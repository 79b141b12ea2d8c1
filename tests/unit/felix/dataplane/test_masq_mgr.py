"""NAT outgoing: pool sets and the cali-nat-outgoing chain."""

from __future__ import annotations

from calico.felix.messages import InSync, IPAMPool, IPAMPoolRemove, IPAMPoolUpdate
from tests.unit.felix.dataplane.conftest import FakeHost


def test_masquerading_pools_switch_the_chain_on_and_off(host: FakeHost) -> None:
    dp = host.dataplane(ip_versions=(4, 6))
    dp.on_messages(
        [
            IPAMPoolUpdate("a", IPAMPool("10.65.0.0/16", masquerade=True)),
            IPAMPoolUpdate("b", IPAMPool("10.66.0.0/16")),
            IPAMPoolUpdate("c", IPAMPool("fd00::/48")),
            InSync(),
        ]
    )
    dp.tick()
    assert host.ipset.sets["cali40network-ip-pools"].members == {"10.65.0.0/16", "10.66.0.0/16"}
    assert host.ipset.sets["cali40masq-ipam-pools"].members == {"10.65.0.0/16"}
    assert host.ipset.sets["cali60network-ip-pools"].members == {"fd00::/48"}
    [rule] = host.rules("cali-nat-outgoing", "nat")
    assert "cali40masq-ipam-pools src" in rule
    assert rule.endswith("-j MASQUERADE")
    assert host.rules("cali-nat-outgoing", "nat", ip_version=6) == []
    dp.on_messages([IPAMPoolRemove("a")])
    host.now += 1
    dp.tick()
    assert host.rules("cali-nat-outgoing", "nat") == []
    assert host.ipset.sets["cali40masq-ipam-pools"].members == set()
