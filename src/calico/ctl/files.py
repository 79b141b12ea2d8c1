"""Where calicoctl's ``-f`` input comes from: a file, stdin (``-``) or a directory.

Mirrors ``calicoctl/commands/file/iter.go``: a directory contributes every
``.yaml``/``.yml``/``.json`` file directly inside it (case-insensitive
suffix), and with ``-R`` those of its subdirectories too, walked in lexical
order like Go's ``filepath.Walk``.  Reading is separate from parsing so that a
command can read *and validate* every input before it writes anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from calico.ctl.errors import InputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "stdin"


@dataclass(frozen=True, slots=True)
class Manifest:
    """The text of one input file; ``source`` names it in error messages."""

    source: str
    text: str


def read_manifests(filename: str, *, recursive: bool, stdin: TextIO) -> list[Manifest]:
    """Read ``filename`` (``-`` for stdin, or a directory) into manifests.

    Raises:
        InputError: the file or directory cannot be read.
    """
    if filename == "-":
        return [Manifest(STDIN_NAME, stdin.read())]
    path = Path(filename)
    if path.is_dir():
        return [_read(p) for p in _walk(path, recursive=recursive)]
    return [_read(path)]


def _walk(directory: Path, *, recursive: bool) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InputError(_describe(exc, directory)) from None
    for entry in entries:
        if entry.is_dir():
            if recursive:
                yield from _walk(entry, recursive=True)
        elif entry.suffix.lower() in MANIFEST_SUFFIXES:
            yield entry


def _read(path: Path) -> Manifest:
    try:
        return Manifest(str(path), path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(_describe(exc, path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"read {path}: not UTF-8 text ({exc.reason})") from None


def _describe(exc: OSError, path: Path) -> str:
    """``open x.yaml: no such file or directory``, as Go words it."""
    reason = exc.strerror or os.strerror(exc.errno or 0)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"
