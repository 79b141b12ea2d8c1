"""Restart triggers: configuration changes felix does not apply to a live dataplane.

As Calico, felix exits (and calico-node starts it again) rather than
re-plumbing the dataplane when a FelixConfiguration changes any resolved
parameter, or when the IP pools change which encapsulation is needed.  The
watcher reads the calc graph's output, so it sees exactly what the
dataplane would have been told.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields

from calico.errors import ConfigError
from calico.felix.config import resolve
from calico.felix.dataplane import encapsulation
from calico.felix.messages import ConfigUpdate, DataplaneMessage, IPAMPoolRemove, IPAMPoolUpdate
from calico.felix.startup import Startup


class ConfigWatcher:
    """Spots, in the calc graph's output, changes that need a restart."""

    def __init__(
        self,
        startup: Startup,
        env: Mapping[str, str],
        file_values: Mapping[str, str],
        restart: Callable[[str], None],
    ) -> None:
        self._startup, self._env, self._file = startup, env, file_values
        self._pools = dict(startup.pools)
        self._restart = restart

    def observe(self, messages: list[DataplaneMessage]) -> None:
        pools_changed = False
        for msg in messages:
            if isinstance(msg, ConfigUpdate):
                self._check_config(msg)
            elif isinstance(msg, IPAMPoolUpdate):
                self._pools[msg.id] = msg.pool
                pools_changed = True
            elif isinstance(msg, IPAMPoolRemove):
                self._pools.pop(msg.id, None)
                pools_changed = True
        if pools_changed:
            encap = encapsulation(self._startup.config, self._pools.values())
            if encap != self._startup.encap:
                self._restart(f"encapsulation changed: {self._startup.encap} -> {encap}")

    def _check_config(self, msg: ConfigUpdate) -> None:
        merged = {name: json.loads(value) for name, value in msg.config.items()}
        try:
            new = resolve(env=self._env, file_values=self._file, global_spec=merged)
        except ConfigError as exc:
            self._restart(f"config update failed: {exc}")
            return
        old = self._startup.config
        changed = [f.name for f in fields(new) if getattr(new, f.name) != getattr(old, f.name)]
        if changed:
            self._restart(f"config changed: {', '.join(changed)}")
