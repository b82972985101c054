"""Importing a lab's latency file: both formats, and errors that name the row."""

from __future__ import annotations

from pathlib import Path

import pytest

from latency.measurement_csv import LatencyCsvError, read_latency_csv
from space import parse_arch
from space.fbnet import fbnet_arch

FBNET_FILE = Path(__file__).parents[1] / "fixtures" / "fbnet_latency_300.csv"
OPS = (
    "k5_e6 skip k3_e1_g2 skip k5_e1 skip skip skip k5_e6 k5_e1 k3_e1_g2 "
    "k5_e1 k5_e6 k3_e6 k3_e3 k5_e6 k3_e6 k3_e3 k5_e1 k3_e3 k5_e1 k5_e1_g2"
)
MOBILE = "r32_w1.0_n10:conv_k3_c16_s2|ir_e6_k3_c24_n2_s2|head_c64"


def test_fbnet_ops_rows_become_the_fbnet_network() -> None:
    rows = read_latency_csv(FBNET_FILE.read_text(), "gold_6240_ms")
    assert len(rows) == 300
    assert rows[0].arch == fbnet_arch(OPS.split())
    assert rows[0].ms == pytest.approx(30.934024964608252)


def test_arch_strings_with_the_only_latency_column() -> None:
    rows = read_latency_csv(f'arch,latency_ms\n{MOBILE},1.5\n"{MOBILE.replace("c64", "c32")}",2\n')
    assert [r.ms for r in rows] == [1.5, 2.0]
    assert rows[0].arch == parse_arch(MOBILE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{OPS.replace('k5_e6', 'k7_e6', 1)},12", "row 2: fbnet.op='k7_e6': unknown FBNet op"),
        (f"{OPS.rsplit(' ', 1)[0]},12", "row 2: fbnet.ops=21: needs exactly 22 ops"),
        (f"{OPS},-3", "row 2: latency -3 must be a positive number"),
        (f"{OPS},", "row 2: latency is missing"),
        (f"{OPS},fast", "row 2: latency 'fast' is not a number"),
        (",12", "row 2: ops is missing"),
    ],
)
def test_bad_rows_are_named(body: str, message: str) -> None:
    text = f"ops,phone_ms\n{OPS},10\n{body}\n"
    with pytest.raises(LatencyCsvError, match="1 bad row:") as caught:
        read_latency_csv(text)
    assert message in str(caught.value)


def test_bad_architecture_string_is_named() -> None:
    with pytest.raises(LatencyCsvError, match=r"row 1: layers\[0\].kind='nope'"):
        read_latency_csv("arch,ms\nr32_w1.0:nope_c3|head,1\n")


def test_every_bad_row_is_counted_and_the_first_ones_shown() -> None:
    text = "ops,ms\n" + "".join(f"{OPS},-{i}\n" for i in range(1, 13))
    with pytest.raises(LatencyCsvError) as caught:
        read_latency_csv(text)
    message = str(caught.value)
    assert message.startswith("12 bad rows: row 1:")
    assert "row 10:" in message and "row 11:" not in message and "(and 2 more)" in message


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", None, "the file is empty"),
        ("arch,ops,ms\n", None, "exactly one of the columns"),
        ("latency\n1\n", None, "exactly one of the columns"),
        (
            f"ops,a_ms,b_ms\n{OPS},1,2\n",
            None,
            r"name the latency column; the file has \['a_ms', 'b_ms'\]",
        ),
        (f"ops,a_ms\n{OPS},1\n", "b_ms", "no latency column 'b_ms'"),
        ("ops,a_ms\n", None, "no rows"),
    ],
)
def test_file_level_errors(text: str, column: str | None, message: str) -> None:
    with pytest.raises(LatencyCsvError, match=message):
        read_latency_csv(text, column)
