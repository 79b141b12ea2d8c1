"""The ``calicoctl`` command group and its entry point.

Errors: every CalicoError, ValueError or OSError escaping a command becomes
its one-line message on stderr and exit status 1, never a traceback.  Like
upstream calicoctl (which silences cobra's ``Error:`` prefix) the message is
printed as is, e.g. ``failed to create 'IPPool' resource: [...]``.  Usage
mistakes (unknown option, missing argument) are click's usual exit 2.

Adding a command group (ipam, node, ...): define it in its own module and
list it in ``_COMMANDS`` below.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from calico.ctl import edit, get, ipam, node, resources, version
from calico.ctl.context import CtlContext, configure_logging, global_options
from calico.errors import CalicoError


class CommandFailed(click.ClickException):
    """A failed command: print the message alone (no ``Error:``) and exit 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message().rstrip("\n"), err=True)


class OneLineUsageError(click.UsageError):
    """A usage mistake as one line (click prints usage, a hint and the error on three)."""

    def show(self, file: IO[Any] | None = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "calicoctl"
        message = " ".join(self.format_message().split()).rstrip(".")
        click.echo(f"{where}: {message} (see '{where} --help')", err=True)


# Usage errors passed on as click shows them: ours, and click >= 8.2's "no
# arguments given: print the help" (a UsageError subclass whose show() is the help).
_AS_IS: tuple[type[click.UsageError], ...] = (
    OneLineUsageError,
    *(t for t in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if t is not None),
)


def _one_line(exc: click.UsageError) -> OneLineUsageError:
    # format_message() of a BadParameter names the option: "Invalid value for '--x': ...".
    return OneLineUsageError(exc.format_message(), exc.ctx)


class CalicoctlGroup(click.Group):
    """A group that reports project errors and usage mistakes as one-line messages."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _AS_IS:
            raise
        except click.UsageError as exc:  # bad global option or unknown command
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # output piped into e.g. head: click exits quietly
        except _AS_IS:
            raise
        except click.UsageError as exc:  # a subcommand's options or arguments
            raise _one_line(exc) from None
        except (CalicoError, ValueError, OSError) as exc:
            raise CommandFailed(str(exc) or type(exc).__name__) from None


@click.group(cls=CalicoctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.pass_context
def calicoctl(ctx: click.Context) -> None:
    """The calicoctl command line tool is used to manage Calico network and security
    policy, to view and manage endpoint configuration, and to manage a Calico node
    instance."""
    ctx.call_on_close(ctx.ensure_object(CtlContext).close)


_COMMANDS: Sequence[click.Command] = (
    resources.create,
    resources.apply,
    resources.replace,
    resources.delete,
    get.get,
    edit.patch,
    edit.label,
    resources.validate,
    version.version,
    ipam.ipam,
    node.node,
)
for _command in _COMMANDS:
    calicoctl.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run calicoctl and exit with its status."""
    configure_logging("panic")  # calicoctl's default: no log output unless -l is given
    try:
        calicoctl.main(args=list(argv) if argv is not None else None, prog_name="calicoctl")
    except (CalicoError, ValueError, OSError) as exc:  # raised outside a command
        click.echo(str(exc), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
