"""``calico lab ...``: the lab's command line (a contract other tools script against).

Commands and their exit codes (ARCHITECTURE.md, "The lab"): every command
exits 0 on success, 1 when it failed (one line on stderr, no traceback) and
2 on a usage error; ``probe`` exits 0 if the destination answered, 1 if
not, 2 if it could not probe at all; ``status`` exits 1 while a host is not
ready; ``exec`` exits with the command's own status.

Results go to stdout (``workload add`` ends with the IP, ``env`` prints
shell lines, ``matrix -o json`` prints JSON); progress spinners and notes
go to stderr, so scripts can capture stdout alone.

The commands live by topic and are attached to the ``lab`` group here:
``calico.lab.cli_cluster`` (up, down, status, env), ``calico.lab.cli_workload``
(namespace, workload) and ``calico.lab.cli_probe`` (exec, probe, matrix).
``main`` is the entry point: it turns every user error into a message and an
exit status.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.markup import escape

from calico.errors import CalicoError
from calico.lab import cli_cluster, cli_probe, cli_workload
from calico.lab._cli_common import EXIT_USAGE, err
from calico.lab.state import validate_lab_name

__all__ = ["EXIT_USAGE", "calico", "lab", "main"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


@click.group(name="calico", context_settings={"help_option_names": ["-h", "--help"]})
def calico() -> None:
    """Project Calico in Python."""


@calico.group()
def lab() -> None:
    """A multi-host Calico cluster in network namespaces on this machine."""


for _command in (
    cli_cluster.up,
    cli_cluster.down,
    cli_cluster.status,
    cli_cluster.env,
    cli_workload.namespace,
    cli_workload.workload,
    cli_probe.exec_,
    cli_probe.probe_cmd,
    cli_probe.matrix_cmd,
):
    lab.add_command(_command)


@lab.command()
@click.option("--name", default="demo", show_default=True, help="The tour's own lab.")
def demo(name: str) -> int:
    """The guided tour: a 3-host lab, workloads, routes, BGP, policy, matrices; then down."""
    from calico.lab import demo as tour

    validate_lab_name(name)  # before anything starts
    return tour.run(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``calico ...``; returns the exit status (never raises for a user error)."""
    try:
        result = calico.main(
            args=list(argv) if argv is not None else None, prog_name="calico", standalone_mode=False
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        err.print("Aborted.")
        return EXIT_INTERRUPTED
    except CalicoError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    return result if isinstance(result, int) else 0
