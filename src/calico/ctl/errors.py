"""Errors raised by calicoctl commands.

A command that fails raises :class:`CommandError` whose text is exactly what
calicoctl prints (upstream ``calicoctl`` prints the error with no prefix and
exits 1, e.g. ``failed to create 'IPPool' resource: [...]``).  The group in
:mod:`calico.ctl.main` turns it, and any other CalicoError or ValueError, into
that one message on stderr and a non-zero exit status.
"""

from __future__ import annotations

from calico.errors import CalicoError


class CommandError(CalicoError):
    """A calicoctl command failed; ``str()`` is the message to print."""


class InputError(CommandError):
    """The ``-f`` input could not be read or parsed (nothing was written)."""
