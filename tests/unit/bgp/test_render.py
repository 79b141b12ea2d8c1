"""Rendered BIRD 2 configs: golden files for whole topologies, exact blocks for options.

Every render in this module goes through the real ``bird -p`` (``Store.render``).
Set ``UPDATE_GOLDEN=1`` to rewrite the golden files after a deliberate change,
then read the diff.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from calico.bgp.render import render_config
from calico.errors import ConfigError

from ._store import Store, protocol, protocol_names

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def expected(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def secrets(name: str, key: str) -> str | None:
    return {("bgp-secrets", "tor"): "s3cret!"}.get((name, key))


# -- whole topologies --------------------------------------------------------


def test_mesh_of_three_golden(tmp_path: Path) -> None:
    store = Store().nodes(3).pool("10.65.0.0/16")
    store.affinity("node2", "10.65.1.0/26").affinity("node2", "10.65.1.64/26", state="pending")
    text = store.render("node2", tmp_path)
    assert_golden(text, "mesh_node2.cfg")
    # Passive toward the greater address string only: one side connects.
    assert "passive on;" in protocol(text, "Mesh_10_0_0_3")
    assert "passive" not in protocol(text, "Mesh_10_0_0_1")


def test_passive_rule_compares_address_strings(tmp_path: Path) -> None:
    store = Store().node("a", "10.0.0.9/24").node("b", "10.0.0.10/24")
    # "10.0.0.10" < "10.0.0.9" as strings, so a is active and b passive.
    assert "passive" not in protocol(store.render("a", tmp_path), "Mesh_10_0_0_10")
    assert "passive on;" in protocol(store.render("b", tmp_path), "Mesh_10_0_0_9")


def rr_store() -> Store:
    store = Store().bgp_config(nodeToNodeMeshEnabled=False).pool("10.65.0.0/16")
    store.node("node1", "10.0.0.1/24", {"route-reflector": "true"},
               routeReflectorClusterID="244.0.0.1")  # fmt: skip
    store.node("node2", "10.0.0.2/24").node("node3", "10.0.0.3/24")
    return store.peer("peer-with-rrs", nodeSelector="all()",
                      peerSelector="route-reflector == 'true'")  # fmt: skip


def test_route_reflector_golden(tmp_path: Path) -> None:
    rr = rr_store().render("node1", tmp_path)
    assert_golden(rr, "rr_node1.cfg")
    assert protocol_names(rr) == ["Node_10_0_0_2", "Node_10_0_0_3"]
    for name in ("Node_10_0_0_2", "Node_10_0_0_3"):
        assert "  rr client;\n  rr cluster id 244.0.0.1;\n" in protocol(rr, name)
    client = rr_store().render("node2", tmp_path)
    assert protocol_names(client) == ["Node_10_0_0_1"]  # no mesh, only the RR
    assert "rr client" not in client


def test_mesh_skips_route_reflectors(tmp_path: Path) -> None:
    store = Store().nodes(3).node("rr", "10.0.0.4/24", routeReflectorClusterID="244.0.0.1")
    assert protocol_names(store.render("node1", tmp_path)) == ["Mesh_10_0_0_2", "Mesh_10_0_0_3"]
    assert protocol_names(store.render("rr", tmp_path)) == []


# -- peers and their options -------------------------------------------------


def test_global_peer_with_port_and_password(tmp_path: Path) -> None:
    store = Store().nodes(2).peer(
        "tor", peerIP="10.0.0.254:1790", asNumber=65001,
        password={"secretKeyRef": {"name": "bgp-secrets", "key": "tor"}},
    )  # fmt: skip
    text = store.render("node1", tmp_path, secrets)
    assert protocol(text, "Global_10_0_0_254_port_1790") == expected("""
        protocol bgp Global_10_0_0_254_port_1790 from bgp_template {
          neighbor 10.0.0.254 port 1790 as 65001;
          source address 10.0.0.1;
          ttl security off;
          multihop;
          ipv4 {
            import filter {
              if (defined(bgp_local_pref) && (bgp_local_pref > 2147482623))
                then preference = 200;
              accept;
            };
            export filter {
              if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {
                krt_metric = 2147483647 - bgp_local_pref;
              } else {
                # Metric 0 is the kernel's 'no metric' (BIRD 1 saw krt_metric undefined).
                if (!defined(krt_metric) || krt_metric = 0) then { krt_metric = 1024; }
                bgp_local_pref = 2147483647 - krt_metric;
              }
              calico_export_to_bgp_peers(false);
              reject;
            };
          };
          password "s3cret!";
        }
    """)
    assert "Global_10_0_0_254_port_1790" in store.render("node2", tmp_path, secrets)


def test_unreadable_password_secret_renders_without_password(tmp_path: Path) -> None:
    store = Store().nodes(1).peer("tor", peerIP="10.0.0.254", asNumber=65001,
                                  password={"secretKeyRef": {"name": "x", "key": "y"}})  # fmt: skip
    assert "password" not in store.render("node1", tmp_path)


def test_node_specific_peers_by_name_and_selector(tmp_path: Path) -> None:
    store = Store().nodes(2).node("node3", "10.0.0.3/24", {"rack": "a"})
    store.peer("for-node2", node="node2", peerIP="10.0.1.1", asNumber=64512)
    store.peer("rack-a", nodeSelector="rack == 'a'", peerIP="10.0.1.2", asNumber=65010)
    assert "Node_10_0_1_1" in protocol_names(store.render("node2", tmp_path))
    assert "Node_10_0_1_1" not in protocol_names(store.render("node1", tmp_path))
    rack = store.render("node3", tmp_path)
    assert protocol_names(rack) == ["Mesh_10_0_0_1", "Mesh_10_0_0_2", "Node_10_0_1_2"]
    assert "  neighbor 10.0.1.2 as 65010;\n" in protocol(rack, "Node_10_0_1_2")
    assert "calico_export_to_bgp_peers(false);" in protocol(rack, "Node_10_0_1_2")


def test_per_node_as_number(tmp_path: Path) -> None:
    store = Store().bgp_config(asNumber=64600).nodes(1).node("node2", "10.0.0.2/24",
                                                             asNumber=65002)  # fmt: skip
    own = store.render("node2", tmp_path)
    assert "  local as 65002;\n" in own
    assert "  neighbor 10.0.0.1 as 64600;\n" in protocol(own, "Mesh_10_0_0_1")
    other = store.render("node1", tmp_path)
    assert "  local as 64600;\n" in other
    mesh = protocol(other, "Mesh_10_0_0_2")
    assert "  neighbor 10.0.0.2 as 65002;\n" in mesh
    assert "calico_export_to_bgp_peers(false);" in mesh  # eBGP within the mesh


def test_listen_port_cluster_wide_and_per_node(tmp_path: Path) -> None:
    store = Store().nodes(3).bgp_config(listenPort=1790).bgp_config("node.node3", listenPort=1791)
    text = store.render("node1", tmp_path)
    assert "  local port 1790 as 64512;\n" in text
    assert "  neighbor 10.0.0.2 port 1790 as 64512;\n" in protocol(text, "Mesh_10_0_0_2")
    assert "  neighbor 10.0.0.3 port 1791 as 64512;\n" in protocol(text, "Mesh_10_0_0_3")
    assert "  local port 1791 as 64512;\n" in store.render("node3", tmp_path)


def test_peer_session_options(tmp_path: Path) -> None:
    store = Store().nodes(1).peer(
        "ext", peerIP="192.0.2.1", asNumber=65001, localASNumber=65100, sourceAddress="None",
        ttlSecurity=2, maxRestartTime="2m", keepaliveTime="10s", nextHopMode="Self",
        numAllowedLocalASNumbers=3,
    )  # fmt: skip
    text = protocol(store.render("node1", tmp_path), "Global_192_0_2_1")
    for line in ("local as 65100;", "neighbor 192.0.2.1 as 65001;", "ttl security on;",
                 "multihop 2;", "next hop self;", "graceful restart time 120;",
                 "keepalive time 10;", "allow local as 3;"):  # fmt: skip
        assert f" {line}\n" in text
    assert "source address" not in text


def test_keep_original_next_hop_applies_to_ebgp_only(tmp_path: Path) -> None:
    store = Store().nodes(1)
    store.peer("ebgp", peerIP="192.0.2.1", asNumber=65001, keepOriginalNextHop=True)
    store.peer("ibgp", peerIP="192.0.2.2", asNumber=64512, keepOriginalNextHop=True)
    store.peer("keep", peerIP="192.0.2.3", asNumber=64512, nextHopMode="Keep")
    text = store.render("node1", tmp_path)
    assert "next hop keep;" in protocol(text, "Global_192_0_2_1")
    assert "next hop" not in protocol(text, "Global_192_0_2_2")
    assert "next hop keep;" in protocol(text, "Global_192_0_2_3")


def test_mesh_password_and_restart_time(tmp_path: Path) -> None:
    store = Store().nodes(2).bgp_config(
        nodeMeshPassword={"secretKeyRef": {"name": "bgp-secrets", "key": "tor"}},
        nodeMeshMaxRestartTime="90s",
    )  # fmt: skip
    mesh = protocol(store.render("node1", tmp_path, secrets), "Mesh_10_0_0_2")
    assert '  password "s3cret!";\n' in mesh
    assert "  graceful restart time 90;\n" in mesh


def test_no_peers(tmp_path: Path) -> None:
    text = Store().nodes(1).render("node1", tmp_path)
    assert "# No BGP peers configured for this node." in text


# -- routes: blocks, pools ---------------------------------------------------


def test_confirmed_blocks_become_blackholes_and_aggregates(tmp_path: Path) -> None:
    store = Store().nodes(1).pool("10.65.0.0/16")
    for cidr in ("10.65.0.64/26", "10.65.0.0/26", "10.65.9.9/32"):
        store.affinity("node1", cidr)
    store.affinity("node1", "10.65.1.0/26", state="pending")
    store.affinity("node2", "10.65.2.0/26")
    text = store.render("node1", tmp_path)
    assert (
        expected("""
        # IP blocks for this host.
        protocol static {
          ipv4;
          route 10.65.0.0/26 blackhole;
          route 10.65.0.64/26 blackhole;
        }
    """)
        in text
    )
    assert "10.65.1.0/26" not in text
    assert "10.65.2.0/26" not in text
    assert "  if ( net ~ 10.65.9.9/32 ) then { reject; }\n" in text  # aggregated, not blackholed


def test_no_blocks_no_static_protocol(tmp_path: Path) -> None:
    text = Store().nodes(1).render("node1", tmp_path)
    assert "protocol static" not in text
    assert "# No IP blocks for this host." in text


def test_pools_export_and_kernel_rules(tmp_path: Path) -> None:
    store = Store().nodes(1).pool("10.65.0.0/16").pool("10.66.0.0/16", vxlanMode="Always")
    store.pool("10.67.0.0/16", disableBGPExport=True).pool("10.68.0.0/16", ipipMode="Always")
    store.pool("10.69.0.0/16", disabled=True).pool("fd00::/48")
    text = store.render("node1", tmp_path)
    export = text[text.index("function calico_export_to_bgp_peers") :]
    export = export[: export.index("\n}\n")]
    assert export.index("10.67.0.0/16) then { reject; } # BGP export is disabled.") < export.index(
        "calico_aggr();"
    )
    for cidr in ("10.65.0.0/16", "10.66.0.0/16", "10.68.0.0/16", "10.69.0.0/16"):
        assert export.index(f"if (net ~ {cidr}) then {{ accept; }}") > export.index("calico_aggr")
    kernel = text[text.index("filter calico_kernel_programming") :]
    assert kernel.startswith("filter calico_kernel_programming\n{\n")
    statements = [line for line in kernel.splitlines() if line.startswith("  if (net ~ ")]
    assert statements == [
        "  if (net ~ 10.65.0.0/16) then { accept; }",
        "  if (net ~ 10.66.0.0/16) then { reject; } # VXLAN routes are handled by Felix.",
        "  if (net ~ 10.67.0.0/16) then { accept; }",
        "  if (net ~ 10.68.0.0/16) then { reject; } # Cluster routes are handled by Felix.",
        "  if (net ~ 10.69.0.0/16) then { accept; }",
    ]
    assert "fd00" not in text


@pytest.mark.parametrize(
    ("setting", "no_encap"),
    [("Disabled", "reject"), ("EnabledIPIPOnly", "reject"), ("Enabled", "accept")],
)
def test_program_cluster_routes(tmp_path: Path, setting: str, no_encap: str) -> None:
    store = Store().nodes(1).bgp_config(programClusterRoutes=setting)
    store.pool("10.65.0.0/16").pool("10.68.0.0/16", ipipMode="CrossSubnet")
    text = store.render("node1", tmp_path)
    assert f"  if (net ~ 10.65.0.0/16) then {{ {no_encap}; }}" in text
    # BIRD 2 has no krt_tunnel: IPIP routes are always Felix's.
    assert (
        "  if (net ~ 10.68.0.0/16) then { reject; } # Cluster routes are handled by Felix." in text
    )


# -- node-level settings -----------------------------------------------------


def test_bind_mode_ignored_interfaces_and_debug(tmp_path: Path) -> None:
    store = (
        Store()
        .nodes(1)
        .bgp_config(
            bindMode="NodeIP", ignoredInterfaces=["eth9", "veth*"], logSeverityScreen="Debug"
        )
    )
    text = store.render("node1", tmp_path)
    assert "  local 10.0.0.1 as 64512;\n  strict bind on;" in text
    assert '  interface -"eth9", -"veth*", -"cali*", -"tap*", -"kube-ipvs*", ' in text
    assert "  debug all;\n" in text
    quiet = Store().nodes(1).bgp_config(logSeverityScreen="Error").render("node1", tmp_path)
    assert "debug" not in quiet


def test_node_without_bgp_address_is_a_config_error() -> None:
    store = Store().nodes(1).node("bare", None)
    with pytest.raises(ConfigError, match=r"'bare' has no spec\.bgp\.ipv4Address"):
        render_config(store.inputs("bare"))
    with pytest.raises(ConfigError, match="'ghost' does not exist"):
        render_config(store.inputs("ghost"))
