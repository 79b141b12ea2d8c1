#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine, as root.
# Idempotent: a second run only checks and returns quickly.
#
# Daemons we install (bird, etcd, dnsmasq, frr) must NOT start in the root
# namespace: calico-node runs its own BIRD, tests run their own etcd.  A
# policy-rc.d that forbids service starts keeps postinst scripts from
# launching them where systemd/sysvinit would.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CALICO_VENV:-$ROOT_DIR/.venv}"
APT_PACKAGES=(
  bird2 iptables ipset nftables iproute2 iputils-ping conntrack
  etcd-server etcd-client dnsmasq-base iperf3 tcpdump
  containernetworking-plugins udhcpc procps psmisc ncat openssl python3-venv
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc"; chmod +x "$policy_rc"; created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ((created_policy)) && rm -f "$policy_rc"
fi

if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.calico-installed"
if [[ ! -e $stamp || $ROOT_DIR/pyproject.toml -nt $stamp ]]; then
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e "$ROOT_DIR[test,openstack]"
  touch "$stamp"
fi
