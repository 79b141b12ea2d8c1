"""Rule scanner: selectors and named ports -> IP set IDs, shared and refcounted."""

from __future__ import annotations

from calico.felix.calc.model import ModelRule, PolicyModel, ProfileModel
from calico.felix.calc.rule_scanner import IPSetSpec, RuleScanner, make_unique_id
from calico.felix.messages import IPSetType, Policy, PolicyID, PortRange, Profile, ProfileID
from calico.selector import parse


class Outputs:
    def __init__(self) -> None:
        self.ipsets: dict[str, IPSetSpec] = {}
        self.policies: dict[PolicyID, Policy] = {}
        self.profiles: dict[ProfileID, Profile] = {}

    def on_ipset_active(self, spec: IPSetSpec) -> None:
        assert spec.id not in self.ipsets
        self.ipsets[spec.id] = spec

    def on_ipset_inactive(self, spec: IPSetSpec) -> None:
        del self.ipsets[spec.id]

    def on_policy_active(self, policy_id: PolicyID, policy: Policy) -> None:
        self.policies[policy_id] = policy

    def on_policy_inactive(self, policy_id: PolicyID) -> None:
        del self.policies[policy_id]

    def on_profile_active(self, profile_id: ProfileID, profile: Profile) -> None:
        self.profiles[profile_id] = profile

    def on_profile_inactive(self, profile_id: ProfileID) -> None:
        del self.profiles[profile_id]


def sid(text: str) -> str:
    return parse(text).unique_id


def scanner() -> tuple[RuleScanner, Outputs]:
    out = Outputs()
    return RuleScanner(out, out), out


def policy(name: str, *inbound: ModelRule, tier: str = "default") -> PolicyModel:
    return PolicyModel(PolicyID(name), tier, None, "all()", inbound_rules=inbound)


def test_calico_unique_ids() -> None:
    # Values from Calico (REFERENCE 3.4): the selector ID and MakeUniqueID.
    assert sid("all()") == "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"
    assert make_unique_id("s", "all()") == "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"
    spec = IPSetSpec('app == "web"', "http", "tcp")
    web_id = sid("app == 'web'")
    assert spec.id == make_unique_id("n", f"{web_id},tcp,http")
    assert spec.type is IPSetType.IP_AND_PORT
    assert IPSetSpec("all()").type is IPSetType.NET


def test_selectors_become_shared_ip_sets() -> None:
    rs, out = scanner()
    rule = ModelRule("allow", src_selector='app == "web"', not_dst_selector='role == "db"')
    rs.on_policy_active(PolicyID("p1"), policy("p1", rule))
    rs.on_profile_active("prof", ProfileModel("prof", (rule,)))
    assert set(out.ipsets) == {sid("app == 'web'"), sid("role == 'db'")}
    scanned = out.policies[PolicyID("p1")].inbound_rules[0]
    assert scanned.src_ip_set_ids == (sid("app == 'web'"),)
    assert scanned.not_dst_ip_set_ids == (sid("role == 'db'"),)
    assert scanned.rule_id  # filled in, stable
    rs.on_policy_inactive(PolicyID("p1"))
    assert set(out.ipsets) == {
        sid("app == 'web'"),
        sid("role == 'db'"),
    }  # the profile still uses them
    rs.on_profile_inactive("prof")
    assert out.ipsets == {}
    assert out.policies == {}


def test_negated_selector_is_folded_into_positive_one() -> None:
    rs, out = scanner()
    rs.on_policy_active(
        PolicyID("p"),
        policy("p", ModelRule("allow", src_selector="a == 'x'", not_src_selector="b == 'y'")),
    )
    rule = out.policies[PolicyID("p")].inbound_rules[0]
    assert rule.src_ip_set_ids == (sid("(a == 'x') && (!(b == 'y'))"),)
    assert rule.not_src_ip_set_ids == ()


def test_named_ports() -> None:
    rs, out = scanner()
    rule = ModelRule("allow", protocol="tcp", dst_selector="a == 'x'", dst_named_ports=("http",))
    rs.on_policy_active(PolicyID("p"), policy("p", rule))
    scanned = out.policies[PolicyID("p")].inbound_rules[0]
    http = IPSetSpec(str(parse("a == 'x'")), "http", "tcp")
    # The selector set is covered by the named-port set: not needed.
    assert scanned.dst_named_port_ip_set_ids == (http.id,)
    assert scanned.dst_ip_set_ids == ()
    assert set(out.ipsets) == {http.id}
    # With numeric ports too, the plain selector set is needed as well.
    both = ModelRule(
        "allow", dst_selector="a == 'x'", dst_ports=(PortRange(80, 80),), dst_named_ports=("http",)
    )
    rs.on_policy_active(PolicyID("p"), policy("p", both))
    scanned = out.policies[PolicyID("p")].inbound_rules[0]
    any_http = IPSetSpec(str(parse("a == 'x'")), "http", "any")
    assert scanned.dst_named_port_ip_set_ids == (any_http.id,)
    assert scanned.dst_ip_set_ids == (sid("a == 'x'"),)
    assert set(out.ipsets) == {any_http.id, sid("a == 'x'")}  # the tcp one went away


def test_named_port_without_selector_uses_all() -> None:
    rs, out = scanner()
    rs.on_policy_active(
        PolicyID("p"), policy("p", ModelRule("allow", protocol="udp", not_src_named_ports=("dns",)))
    )
    spec = IPSetSpec("all()", "dns", "udp")
    assert out.policies[PolicyID("p")].inbound_rules[0].not_src_named_port_ip_set_ids == (spec.id,)


def test_rule_ids_depend_on_position_and_owner() -> None:
    rs, out = scanner()
    a, b = ModelRule("allow"), ModelRule("deny")
    rs.on_policy_active(PolicyID("p"), policy("p", a, b))
    rs.on_policy_active(PolicyID("q"), policy("q", a, b))
    rs.on_policy_active(PolicyID("r"), policy("r", b, a))
    ids = {name: [r.rule_id for r in out.policies[PolicyID(name)].inbound_rules] for name in "pqr"}
    assert len({*ids["p"], *ids["q"], *ids["r"]}) == 6
    rs.on_policy_active(PolicyID("p"), policy("p", a, b))
    assert [r.rule_id for r in out.policies[PolicyID("p")].inbound_rules] == ids["p"]


def test_policy_message_fields() -> None:
    rs, out = scanner()
    model = PolicyModel(
        PolicyID("p", "ns1", "np"),
        "t1",
        3.0,
        'a == "b"',
        untracked=True,
        pre_dnat=True,
        apply_on_forward=True,
    )
    rs.on_policy_active(model.id, model)
    assert out.policies[model.id] == Policy(
        namespace="ns1",
        untracked=True,
        pre_dnat=True,
        apply_on_forward=True,
        original_selector='a == "b"',
        tier="t1",
    )
