"""Output helpers: Go tabwriter layout and -o parsing."""

from __future__ import annotations

import pytest

from calico.ctl.errors import CommandError
from calico.ctl.output import OutputSpec, parse_output, render_table


def test_every_column_is_padded_to_widest_plus_three() -> None:
    text = render_table(["NAME", "CIDR"], [["ippool-name1", "10.0.1.0/24"]])
    assert text == "NAME           CIDR          \nippool-name1   10.0.1.0/24   \n"


def test_minimum_column_width_is_five() -> None:
    assert render_table(["A", ""], [["b", ""]]) == "A    " + "     \n" + "b    " + "     \n"


def test_width_counts_characters_not_bytes() -> None:
    assert render_table(["N"], [["é"]]) == "N    \né    \n"


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("ps", OutputSpec("ps")),
        ("wide", OutputSpec("wide")),
        ("yaml", OutputSpec("yaml")),
        ("yml", OutputSpec("yaml")),
        ("json", OutputSpec("json")),
        ("custom-columns=NAME, cidr", OutputSpec("custom", ("NAME", "cidr"))),
    ],
)
def test_parse_output(value: str, spec: OutputSpec) -> None:
    assert parse_output(value) == spec


def test_parse_output_rejects_unknown() -> None:
    with pytest.raises(CommandError, match="unrecognized output format 'table'"):
        parse_output("table")
