"""``calicoctl version``: the client's version and the cluster's, if reachable.

As ``calicoctl/commands/version.go``: the client lines always print; the
cluster lines come from the ``default`` ClusterInformation.  When there is no
cluster to ask (the datastore cannot be opened, or holds no ClusterInformation
yet -- upstream calls that an error) it prints ``Unable to detect installed
Calico version`` and still exits 0; any other datastore failure exits 1.
"""

from __future__ import annotations

from importlib import metadata

import click

import calico
from calico.ctl.context import CtlContext, get_context, global_options
from calico.ctl.errors import CommandError
from calico.errors import CalicoError, NotFoundError

DISTRIBUTION = "calico-py"


def client_version() -> str:
    try:
        return "v" + metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "v" + calico.__version__


@click.command("version")
@global_options
@click.option("--client", "client_only", is_flag=True, help="Display the client version only.")
def version(client_only: bool) -> None:
    """Display the version of this binary, and of the cluster when it can be reached."""
    click.echo(f"Client Version:    {client_version()}")
    click.echo("Git commit:        unknown")
    if not client_only:
        _print_cluster_version(get_context())


def _print_cluster_version(state: CtlContext) -> None:
    try:
        client = state.client()
    except CommandError:
        click.echo("Unable to detect installed Calico version")
        return
    try:
        info = client.get("ClusterInformation", "default").to_dict().get("spec", {})
    except NotFoundError:
        click.echo("Unable to detect installed Calico version")
        return
    except CalicoError as exc:
        raise CommandError(f"unable to retrieve Cluster Version or Type: {exc}") from None
    click.echo(f"Cluster Version:   {info.get('calicoVersion') or 'unknown'}")
    click.echo(f"Cluster Type:      {info.get('clusterType') or 'unknown'}")
