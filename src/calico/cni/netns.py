"""Entering the container's network namespace from the plugin process.

``CNI_NETNS`` is a *path* (``/run/netns/x``, ``/proc/<pid>/ns/net``), which
``ip -n`` does not accept (it only takes names under ``/run/netns``).  So the
plugin switches its own network namespace with ``setns(2)`` for the few
container-side steps and switches back: commands it spawns meanwhile (``ip``)
inherit the namespace, and ``/proc/sys/net`` resolves against the namespace
of whoever opens it, so container sysctls are plain file writes too.

Python 3.11 has no ``os.setns`` (3.12 does), hence ctypes.  ``setns`` moves
only the calling thread; the plugin is single-threaded, so that is the whole
process.  Returning to the original namespace cannot reasonably fail (we hold
an fd to it); if it ever did, the process must not carry on in the wrong
namespace, so it aborts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_SELF = "/proc/self/ns/net"
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(OSError):
    """CNI_NETNS does not exist or is not a network namespace."""


def _setns(fd: int, path: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise NetnsError(code, f"setns({path}): {os.strerror(code)}")


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Run the block inside the network namespace at ``path``.

    NetnsError (FileNotFoundError-like errno ENOENT) if it does not exist.
    """
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NetnsError(
            exc.errno or errno.ENOENT, f"cannot open netns {path}: {exc.strerror}"
        ) from None
    home = os.open(_SELF, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, path)  # EINVAL: not a network namespace
        try:
            yield
        finally:
            try:
                _setns(home, _SELF)
            except NetnsError:
                os.abort()
    finally:
        os.close(target)
        os.close(home)


def is_own(path: str) -> bool:
    """Whether ``path`` is the namespace this process is in (never configure that)."""
    mine, theirs = os.stat(_SELF), os.stat(path)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def exists(path: str) -> bool:
    return bool(path) and os.path.exists(path)
