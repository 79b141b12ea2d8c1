"""A small CNI runtime: runs plugins exactly as a container runtime does (libcni).

SPEC section 3, "Execution of Network Configurations":

* the plugin named by ``type`` is looked up in ``CNI_PATH`` and exec'd with
  ``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
  ``CNI_ARGS`` and ``CNI_PATH`` in its environment, its config on stdin;
* each plugin's config is its entry of the conflist plus ``name`` and
  ``cniVersion`` (the highest of ``cniVersion``/``cniVersions``),
  ``runtimeConfig`` (its ``capabilities`` intersected with the capability
  arguments the caller provides) and ``prevResult``; ``capabilities`` itself
  is removed;
* ADD runs the list in order, each plugin getting the previous one's result;
  the last result is cached.  DEL runs the list in reverse and CHECK in
  order, both with the cached ADD result as ``prevResult``.  GC runs every
  plugin with ``cni.dev/valid-attachments`` and carries on after errors;
* stdout is the result or the error object, stderr is logs.

The runtime itself runs in a lab host's namespace (``ip netns exec``): that
namespace is the "host" whose containers it wires.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

SUPPORTED = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
Config = dict[str, Any]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class PluginError(Exception):
    """A plugin exited non-zero; carries its error object and its stderr."""

    def __init__(self, plugin: str, command: str, reply: Config, stderr: str) -> None:
        self.plugin = plugin
        self.command = command
        self.code = int(reply.get("code", -1))
        self.msg = str(reply.get("msg", ""))
        self.details = str(reply.get("details", ""))
        self.reply = reply
        self.stderr = stderr
        super().__init__(f"{plugin} {command}: [{self.code}] {self.msg}: {self.details}")


@dataclass(frozen=True)
class Attachment:
    """One container's attachment to a network: the per-attachment parameters."""

    container_id: str
    netns: str  # a path, e.g. /run/netns/<name>
    ifname: str = "eth0"
    args: dict[str, str] = field(default_factory=dict)  # CNI_ARGS
    capability_args: dict[str, Any] = field(default_factory=dict)

    @property
    def cni_args(self) -> str:
        return ";".join(f"{k}={v}" for k, v in self.args.items())


def as_conflist(config: Config) -> Config:
    """A single-plugin network config as a conflist (what libcni does)."""
    if "plugins" in config:
        return config
    plugin = {k: v for k, v in config.items() if k not in ("name", "cniVersion", "cniVersions")}
    return {"cniVersion": config.get("cniVersion", ""), "name": config["name"], "plugins": [plugin]}


def select_version(conflist: Config) -> str:
    """The highest version the network config declares that we speak."""
    declared = [conflist.get("cniVersion", ""), *conflist.get("cniVersions", [])]
    usable = [str(v) for v in declared if v in SUPPORTED]
    if not usable:
        raise ValueError(f"no supported cniVersion in {declared}")
    return max(usable, key=_key)


def plugin_config(
    conflist: Config,
    plugin: Config,
    *,
    prev_result: Config | None = None,
    capability_args: dict[str, Any] | None = None,
    valid_attachments: list[Attachment] | None = None,
) -> Config:
    """Derive one plugin's request configuration (SPEC 3, "Deriving ...")."""
    conf = {k: v for k, v in plugin.items() if k != "capabilities"}
    conf["name"] = conflist["name"]
    conf["cniVersion"] = select_version(conflist)
    wanted = {k for k, on in plugin.get("capabilities", {}).items() if on}
    runtime = {k: v for k, v in (capability_args or {}).items() if k in wanted}
    if runtime:
        conf["runtimeConfig"] = runtime
    if prev_result is not None:
        conf["prevResult"] = prev_result
    if valid_attachments is not None:
        conf["cni.dev/valid-attachments"] = [
            {"containerID": a.container_id, "ifname": a.ifname} for a in valid_attachments
        ]
    return conf


class Runtime:
    """Executes network configs for the host namespace ``host_netns``."""

    def __init__(self, cni_path: list[str], host_netns: str | None = None) -> None:
        self.cni_path = cni_path
        self.host_netns = host_netns
        self.cache: dict[tuple[str, str, str], Config] = {}

    # -- one plugin ---------------------------------------------------------------

    def find(self, plugin_type: str) -> str:
        for directory in self.cni_path:
            path = os.path.join(directory, plugin_type)
            if os.access(path, os.X_OK):
                return path
        raise FileNotFoundError(f"plugin {plugin_type} not in {self.cni_path}")

    def run(
        self, plugin_type: str, env: dict[str, str], stdin: bytes
    ) -> subprocess.CompletedProcess[bytes]:
        """Exec a plugin with exactly ``env`` (plus PATH) and ``stdin``; no checks."""
        argv = [self.find(plugin_type)]
        if self.host_netns:
            argv = ["ip", "netns", "exec", self.host_netns, *argv]
        full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), **env}
        return subprocess.run(argv, input=stdin, env=full_env, capture_output=True, timeout=120)

    def invoke(
        self, command: str, config: Config, attachment: Attachment | None = None
    ) -> Config | None:
        """Run ``config["type"]`` for ``command``; its decoded result, or PluginError."""
        env = {"CNI_COMMAND": command, "CNI_PATH": ":".join(self.cni_path)}
        if attachment is not None:
            env |= {
                "CNI_CONTAINERID": attachment.container_id,
                "CNI_NETNS": attachment.netns,
                "CNI_IFNAME": attachment.ifname,
                "CNI_ARGS": attachment.cni_args,
            }
        proc = self.run(config["type"], env, json.dumps(config).encode())
        reply = json.loads(proc.stdout) if proc.stdout.strip() else None
        if proc.returncode != 0:
            raise PluginError(config["type"], command, reply or {}, proc.stderr.decode())
        return reply

    # -- network configurations ---------------------------------------------------

    def add(self, network: Config, att: Attachment) -> Config:
        conflist = as_conflist(network)
        result: Config | None = None
        for plugin in conflist["plugins"]:
            conf = plugin_config(
                conflist, plugin, prev_result=result, capability_args=att.capability_args
            )
            result = self.invoke("ADD", conf, att)
        assert result is not None
        self.cache[self._cache_key(conflist, att)] = result
        return result

    def delete(self, network: Config, att: Attachment) -> None:
        conflist = as_conflist(network)
        cached = self.cache.get(self._cache_key(conflist, att))
        for plugin in reversed(conflist["plugins"]):
            conf = plugin_config(
                conflist, plugin, prev_result=cached, capability_args=att.capability_args
            )
            self.invoke("DEL", conf, att)
        self.cache.pop(self._cache_key(conflist, att), None)

    def check(self, network: Config, att: Attachment) -> None:
        conflist = as_conflist(network)
        cached = self.cache[self._cache_key(conflist, att)]
        for plugin in conflist["plugins"]:
            conf = plugin_config(
                conflist, plugin, prev_result=cached, capability_args=att.capability_args
            )
            self.invoke("CHECK", conf, att)

    def gc(self, network: Config, valid: list[Attachment]) -> None:
        conflist = as_conflist(network)
        errors = []
        for plugin in conflist["plugins"]:
            try:
                self.invoke("GC", plugin_config(conflist, plugin, valid_attachments=valid))
            except PluginError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def status(self, network: Config) -> None:
        conflist = as_conflist(network)
        for plugin in conflist["plugins"]:
            self.invoke("STATUS", plugin_config(conflist, plugin))

    def version(self, plugin_type: str, cni_version: str = "1.1.0") -> Config:
        reply = self.invoke("VERSION", {"type": plugin_type, "cniVersion": cni_version})
        assert reply is not None
        return reply

    @staticmethod
    def _cache_key(conflist: Config, att: Attachment) -> tuple[str, str, str]:
        return (conflist["name"], att.container_id, att.ifname)
