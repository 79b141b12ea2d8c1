"""Build datastores the way calicoctl and IPAM write them, for calico.bgp tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from calico.bgp.model import BGPInputs, load_inputs
from calico.bgp.passwords import SecretReader, no_secrets
from calico.bgp.render import render_config
from calico.datastore import MemoryDatastore
from calico.datastore.keys import resource_key


class Store:
    """A MemoryDatastore plus one-line writers for the resources calico-bgp reads."""

    def __init__(self) -> None:
        self.ds = MemoryDatastore()

    def put(self, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> Store:
        doc = {"apiVersion": "projectcalico.org/v3", "kind": kind,
               "metadata": {"name": name, **meta}, "spec": spec}  # fmt: skip
        self.ds.put(resource_key(kind, name), json.dumps(doc))
        return self

    def node(
        self, name: str, cidr: str | None, labels: dict[str, str] | None = None, **bgp: Any
    ) -> Store:
        spec = {"bgp": {"ipv4Address": cidr, **bgp}} if cidr else {}
        meta = {"labels": labels} if labels else {}
        return self.put("Node", name, spec, **meta)

    def nodes(self, count: int, subnet: str = "10.0.0") -> Store:
        for n in range(1, count + 1):
            self.node(f"node{n}", f"{subnet}.{n}/24")
        return self

    def pool(self, cidr: str, **spec: Any) -> Store:
        return self.put("IPPool", cidr.replace("/", "-"), {"cidr": cidr, **spec})

    def bgp_config(self, name: str = "default", **spec: Any) -> Store:
        return self.put("BGPConfiguration", name, spec)

    def peer(self, name: str, **spec: Any) -> Store:
        return self.put("BGPPeer", name, spec)

    def affinity(self, node: str, cidr: str, state: str = "confirmed") -> Store:
        key = f"/calico/ipam/v2/host/{node}/ipv4/block/{cidr.replace('/', '-')}"
        self.ds.put(key, json.dumps({"state": state, "deleted": False}))
        return self

    def inputs(self, node: str, secrets: SecretReader = no_secrets) -> BGPInputs:
        return load_inputs(self.ds, node, secrets)

    def render(self, node: str, tmp_path: Path, secrets: SecretReader = no_secrets) -> str:
        """Render for ``node`` and insist that the real ``bird -p`` accepts it."""
        text = render_config(self.inputs(node, secrets))
        assert_bird_accepts(text, tmp_path / f"{node}.cfg")
        return text


def assert_bird_accepts(text: str, path: Path) -> None:
    if shutil.which("bird") is None:
        pytest.skip("needs BIRD 2 (Debian bird2) for bird -p")
    path.write_text(text)
    proc = subprocess.run(["bird", "-p", "-c", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, f"bird -p rejected {path}: {proc.stderr}"


def protocol(text: str, name: str) -> str:
    """The ``protocol bgp <name> ... }`` block of a rendered config."""
    start = text.index(f"protocol bgp {name} from bgp_template {{")
    return text[start : text.index("\n}\n", start) + 3]


def protocol_names(text: str) -> list[str]:
    return [line.split()[2] for line in text.splitlines() if line.startswith("protocol bgp ")]
