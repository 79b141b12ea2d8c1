"""calicoctl -f input: files, stdin and directories (with and without -R)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from calico.ctl.errors import InputError
from calico.ctl.files import STDIN_NAME, read_manifests


def _tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "b.yaml").write_text("b")
    (root / "a.JSON").write_text("a")
    (root / "c.yml").write_text("c")
    (root / "notes.txt").write_text("ignored")
    (root / "sub" / "d.yaml").write_text("d")
    (root / "sub" / "deeper" / "e.json").write_text("e")


def test_single_file(tmp_path: Path) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text("kind: IPPool\n")
    [manifest] = read_manifests(str(path), recursive=False, stdin=io.StringIO())
    assert manifest.source == str(path)
    assert manifest.text == "kind: IPPool\n"


def test_stdin() -> None:
    [manifest] = read_manifests("-", recursive=False, stdin=io.StringIO("hello"))
    assert (manifest.source, manifest.text) == (STDIN_NAME, "hello")


def test_directory_without_recursion_reads_only_top_level(tmp_path: Path) -> None:
    _tree(tmp_path)
    texts = [m.text for m in read_manifests(str(tmp_path), recursive=False, stdin=io.StringIO())]
    assert texts == ["a", "b", "c"]


def test_directory_recursive_walks_in_lexical_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    texts = [m.text for m in read_manifests(str(tmp_path), recursive=True, stdin=io.StringIO())]
    assert texts == ["a", "b", "c", "d", "e"]


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        read_manifests(str(missing), recursive=False, stdin=io.StringIO())
    assert str(info.value) == f"open {missing}: no such file or directory"


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        read_manifests(str(path), recursive=False, stdin=io.StringIO())
