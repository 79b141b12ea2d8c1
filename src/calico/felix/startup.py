"""Felix's start-up configuration: what it reads before the pipeline starts.

As Calico's ``daemon.go``: the configuration with Calico's precedence (env
``FELIX_*`` > config file > FelixConfiguration ``node.<host>`` > ``default``
> built-in), the IP pools (which tunnel devices are needed) and this host's
IPIP tunnel address.  The config file is ``$CALICO_FELIX_CONFIG_FILE`` (or
the ``--config-file`` flag), else ``/etc/calico/felix.cfg``.

Everything here is a one-shot read; noticing later changes is
``config_watch``'s job.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calico.datastore import Datastore
from calico.datastore.keys import kind_prefix, resource_key
from calico.errors import ConfigError
from calico.felix.calc.model import PoolModel
from calico.felix.config import DEFAULT_CONFIG_FILE, FelixConfig, load_config_file, resolve
from calico.felix.convert import convert_kv
from calico.felix.dataplane import Encapsulation, encapsulation
from calico.felix.messages import IPAMPool

log = logging.getLogger(__name__)

CONFIG_FILE_ENV = "CALICO_FELIX_CONFIG_FILE"

_PORTS = {  # parameter name -> FelixConfig attribute
    "VXLANPort": "vxlan_port",
    "HealthPort": "health_port",
    "PrometheusMetricsPort": "prometheus_metrics_port",
    "MetadataPort": "metadata_port",
}


@dataclass(frozen=True)
class Startup:
    """Everything read from the datastore before the pipeline starts."""

    config: FelixConfig
    pools: Mapping[str, IPAMPool] = field(default_factory=dict)
    ipip_tunnel_address: str = ""

    @property
    def encap(self) -> Encapsulation:
        return encapsulation(self.config, self.pools.values())


def read_config_file(env: Mapping[str, str], config_file: str | None) -> dict[str, str]:
    """The config file's values; ConfigError if it cannot be read.

    A missing default file is no file at all; a missing ``--config-file`` is a typo."""
    if config_file and not os.path.exists(config_file):
        raise ConfigError(f"--config-file {config_file}: no such file")
    path = config_file or env.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE
    try:
        return load_config_file(path)
    except OSError as exc:  # a directory, unreadable, ...
        raise ConfigError(f"felix config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"felix config file {path}: not UTF-8 text") from None


def check_ports(config: FelixConfig) -> None:
    """ConfigError for a port parameter outside 0-65535 (bind() would raise OverflowError)."""
    for param, attr in _PORTS.items():
        port = getattr(config, attr)
        if not 0 <= port <= 65535:
            raise ConfigError(
                f"{param} (FELIX_{param.upper()}): invalid value {port}: must be 0-65535"
            )


def load_startup(
    datastore: Datastore, env: Mapping[str, str], file_values: Mapping[str, str]
) -> Startup:
    """Resolve the configuration and read the pools; DatastoreError if unreachable."""
    hostname = resolve(env=env, file_values=file_values).felix_hostname
    config = resolve(
        env=env,
        file_values=file_values,
        host_spec=_spec(datastore, resource_key("FelixConfiguration", f"node.{hostname}")),
        global_spec=_spec(datastore, resource_key("FelixConfiguration", "default")),
    )
    pools: dict[str, IPAMPool] = {}
    for kv in datastore.list(kind_prefix("IPPool"))[0]:
        pool = _pool(kv.key, kv.value)
        if pool is not None:
            pools[kv.key.rsplit("/", 1)[-1]] = pool
    node = _spec(datastore, resource_key("Node", config.felix_hostname)) or {}
    ipip_address = str((node.get("bgp") or {}).get("ipv4IPIPTunnelAddr") or "")
    return Startup(config, pools, ipip_address)


def _spec(datastore: Datastore, key: str) -> dict[str, Any] | None:
    kv = datastore.get(key)
    if kv is None:
        return None
    try:
        value = json.loads(kv.value)
    except ValueError:
        log.warning("Ignoring %s: not JSON", key)
        return None
    spec = value.get("spec") if isinstance(value, dict) else None
    return spec if isinstance(spec, dict) else None


def _pool(key: str, text: str) -> IPAMPool | None:
    try:
        converted = convert_kv(key, json.loads(text))
    except ValueError:
        return None
    model = converted.model if converted is not None else None
    if not isinstance(model, PoolModel):
        return None
    return IPAMPool(
        model.cidr, model.nat_outgoing, model.ipip_mode, model.vxlan_mode, model.disabled
    )
