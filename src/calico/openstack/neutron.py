"""The driver's one seam to Neutron's database: :class:`NeutronLookup`.

A port dict names its subnets and security groups only by ID, and a rule
change names only its group; the driver looks the rest up here.  In
neutron-server that is :class:`PluginLookup`, calling the core plugin the
way networking-calico does (``plugin.get_subnet`` and friends, with an admin
context).  Tests hand the driver a small in-memory implementation instead,
which is all a unit test needs of Neutron: answers to these questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Row = Mapping[str, Any]


class NeutronLookup(Protocol):
    def get_subnet(self, subnet_id: str) -> Row | None:
        """The subnet dict (``gateway_ip``...), or None if it does not exist."""

    def get_security_groups(self, sg_ids: Sequence[str]) -> list[Row]:
        """The existing ones of those groups (``id``, ``name``)."""

    def get_security_group_rules(self, sg_id: str) -> list[Row] | None:
        """The group's rules; None if the group does not exist."""

    def get_project(self, project_id: str) -> tuple[str, str | None] | None:
        """(name, parent id) of a project, or None when unknown."""

    def update_port_status(self, port_id: str, status: str, host: str) -> None:
        """Set a port's status (ACTIVE/DOWN/ERROR) as seen on ``host``."""


class PluginLookup:
    """:class:`NeutronLookup` over the running neutron-server's core plugin.

    Imports Neutron lazily: only neutron-server has it.  Project names would
    need Keystone, which this driver does not talk to; ports then carry the
    project ID label only.
    """

    def _plugin(self) -> Any:
        from neutron_lib.plugins import directory

        return directory.get_plugin()

    def _context(self) -> Any:
        from neutron_lib import context

        return context.get_admin_context()

    def get_subnet(self, subnet_id: str) -> Row | None:
        from neutron_lib import exceptions

        try:
            subnet: Row = self._plugin().get_subnet(self._context(), subnet_id)
        except exceptions.SubnetNotFound:
            return None
        return subnet

    def get_security_groups(self, sg_ids: Sequence[str]) -> list[Row]:
        # default_sg=True stops Neutron creating the project's default group
        # as a side effect of the query (networking-calico's comment on races).
        groups: list[Row] = self._plugin().get_security_groups(
            self._context(), filters={"id": list(sg_ids)}, default_sg=True
        )
        return groups

    def get_security_group_rules(self, sg_id: str) -> list[Row] | None:
        if not self.get_security_groups([sg_id]):
            return None
        rules: list[Row] = self._plugin().get_security_group_rules(
            self._context(), filters={"security_group_id": [sg_id]}
        )
        return rules

    def get_project(self, project_id: str) -> tuple[str, str | None] | None:
        return None

    def update_port_status(self, port_id: str, status: str, host: str) -> None:
        self._plugin().update_port_status(self._context(), port_id, status, host=host)
