"""Names of everything felix creates in iptables and ipset, and rule hashes.

Everything starts with ``cali`` so that a restarted felix (which remembers
nothing) recognises what is its own and sweeps what it no longer wants:
chains are ``cali-*``, IP sets ``cali40<id>`` / ``cali60<id>``.

Length limits come from the kernel: an iptables chain name holds 28
characters, an ipset name 31.  Chain names that would be too long are
shortened with :func:`length_limited_id` (Calico's ``GetLengthLimitedID``):
``prefix + "_" + base64url(sha256(suffix))`` cut to the limit.  IP set IDs are
already hashes, so set names are simply truncated.

Rule hashes (:func:`rule_hashes`) are how the table driver reads state back
without parsing rules: every rule we write carries ``cali:<16 chars>`` where
``h0 = SHA-224(chain name)`` and ``h_i = SHA-224(h_{i-1} || rendered rule i)``.
Because each hash chains in the one before, a rule's ID also encodes its
position and every rule above it: comparing two hash lists finds exactly the
rules that need rewriting.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from calico.felix.messages import PolicyID
from calico.felix.rules.types import IptRule

MAX_CHAIN_NAME_LENGTH = 28
MAX_IPSET_NAME_LENGTH = 31
HASH_LENGTH = 16
HASH_COMMENT_PREFIX = "cali:"
CHAIN_PREFIX = "cali-"

# --- top-level and static chains ---------------------------------------------

CHAIN_FILTER_INPUT = "cali-INPUT"
CHAIN_FILTER_FORWARD = "cali-FORWARD"
CHAIN_FILTER_OUTPUT = "cali-OUTPUT"
CHAIN_RAW_PREROUTING = "cali-PREROUTING"
CHAIN_RAW_OUTPUT = "cali-OUTPUT"
CHAIN_MANGLE_PREROUTING = "cali-PREROUTING"
CHAIN_MANGLE_POSTROUTING = "cali-POSTROUTING"
CHAIN_NAT_PREROUTING = "cali-PREROUTING"
CHAIN_NAT_POSTROUTING = "cali-POSTROUTING"
CHAIN_NAT_OUTPUT = "cali-OUTPUT"
CHAIN_NAT_OUTGOING = "cali-nat-outgoing"
CHAIN_FIP_DNAT = "cali-fip-dnat"
CHAIN_FIP_SNAT = "cali-fip-snat"
CHAIN_CIDR_BLOCK = "cali-cidr-block"
CHAIN_FAILSAFE_IN = "cali-failsafe-in"
CHAIN_FAILSAFE_OUT = "cali-failsafe-out"
CHAIN_WORKLOAD_TO_HOST = "cali-wl-to-host"
CHAIN_RPF_SKIP = "cali-rpf-skip"

# --- dispatch chains ---------------------------------------------------------

CHAIN_FROM_WORKLOAD_DISPATCH = "cali-from-wl-dispatch"
CHAIN_TO_WORKLOAD_DISPATCH = "cali-to-wl-dispatch"
CHAIN_FROM_HOST_ENDPOINT = "cali-from-host-endpoint"
CHAIN_TO_HOST_ENDPOINT = "cali-to-host-endpoint"
CHAIN_FROM_HEP_FORWARD = "cali-from-hep-forward"
CHAIN_TO_HEP_FORWARD = "cali-to-hep-forward"

# --- per-object chain prefixes -----------------------------------------------

POLICY_INBOUND_PREFIX = "cali-pi-"
POLICY_OUTBOUND_PREFIX = "cali-po-"
PROFILE_INBOUND_PREFIX = "cali-pri-"
PROFILE_OUTBOUND_PREFIX = "cali-pro-"
WORKLOAD_TO_ENDPOINT_PREFIX = "cali-tw-"
WORKLOAD_FROM_ENDPOINT_PREFIX = "cali-fw-"
HOST_TO_ENDPOINT_PREFIX = "cali-th-"
HOST_FROM_ENDPOINT_PREFIX = "cali-fh-"
HOST_TO_ENDPOINT_FORWARD_PREFIX = "cali-thfw-"
HOST_FROM_ENDPOINT_FORWARD_PREFIX = "cali-fhfw-"

# The wildcard ("*") host endpoint's chains use this interface name, as in
# Calico; it can never be a real interface (longer than IFNAMSIZ).
ALL_INTERFACES = "any-interface-at-all"

# --- IP sets -------------------------------------------------------------------

IPSET_ID_NETWORK_POOLS = "network-ip-pools"
IPSET_ID_NAT_OUTGOING_MASQ_POOLS = "masq-ipam-pools"
IPSET_ID_ALL_HOST_NETS = "all-hosts-net"
IPSET_ID_ALL_VXLAN_SOURCE_NETS = "all-vxlan-net"
IPSET_ID_THIS_HOST = "this-host"

# Main sets are "cali" + family digit + this version token + ID.  Calico bumps
# the token when the set format changes incompatibly; temp sets use "t".
_MAIN_SET_TOKEN = "0"
_TEMP_SET_TOKEN = "t"


def length_limited_id(prefix: str, suffix: str, max_length: int) -> str:
    """``prefix + suffix``, or ``prefix + "_" + hash(suffix)`` if that is too long.

    A suffix that would land exactly on the limit but starts with ``_`` is
    hashed as well, so it can never collide with a shortened name.
    """
    suffix = suffix or "_"
    total = len(prefix) + len(suffix)
    if total < max_length or (total == max_length and not suffix.startswith("_")):
        return prefix + suffix
    room = max_length - 1 - len(prefix)
    if room <= 0:
        raise ValueError(f"max length {max_length} is too small for prefix {prefix!r}")
    digest = base64.urlsafe_b64encode(hashlib.sha256(suffix.encode()).digest()).decode()
    return prefix + "_" + digest.rstrip("=")[:room]


def policy_chain_name(prefix: str, policy_id: PolicyID) -> str:
    return length_limited_id(prefix, policy_id.chain_id, MAX_CHAIN_NAME_LENGTH)


def profile_chain_name(prefix: str, profile_name: str) -> str:
    return length_limited_id(prefix, profile_name, MAX_CHAIN_NAME_LENGTH)


def endpoint_chain_name(prefix: str, iface: str) -> str:
    if iface == "*":
        iface = ALL_INTERFACES
    return length_limited_id(prefix, iface, MAX_CHAIN_NAME_LENGTH)


def ipset_name(ip_version: int, set_id: str) -> str:
    """The kernel name of main IP set ``set_id``, e.g. ``cali40s:qMt7iLlGD...``."""
    return f"cali{_family_digit(ip_version)}{_MAIN_SET_TOKEN}{set_id}"[:MAX_IPSET_NAME_LENGTH]


def temp_ipset_name(ip_version: int, index: int) -> str:
    return f"cali{_family_digit(ip_version)}{_TEMP_SET_TOKEN}{index}"


def ipset_family_prefix(ip_version: int) -> str:
    """Every set of this family whose name starts with this is felix's."""
    return f"cali{_family_digit(ip_version)}"


def _family_digit(ip_version: int) -> str:
    if ip_version not in (4, 6):
        raise ValueError(f"ip_version must be 4 or 6, not {ip_version!r}")
    return str(ip_version)


def rule_hashes(chain_name: str, rules: Sequence[IptRule]) -> list[str]:
    """The ``cali:`` IDs of ``rules`` at their positions in ``chain_name``."""
    digest = hashlib.sha224(chain_name.encode()).digest()
    hashes = []
    head = f"-A {chain_name}"
    for rule in rules:
        digest = hashlib.sha224(digest + rule.render(head, "HASH").encode()).digest()
        hashes.append(base64.urlsafe_b64encode(digest).decode()[:HASH_LENGTH])
    return hashes


def hash_comment(rule_hash: str) -> str:
    return f'-m comment --comment "{HASH_COMMENT_PREFIX}{rule_hash}"'
