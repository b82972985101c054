"""Latency measurements from CSV: a device lab's existing data, in one of two formats.

- ``arch`` column: canonical architecture strings (any spelling ``parse_arch`` accepts);
- ``ops`` column: FBNet's 22 op names separated by spaces (../shared/data/README.md).

The latency column is named by the caller, or is the only column besides those. Every row is
checked; errors name the row (1 = first row after the header) and what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from edgenas.errors import InvalidRequestError
from space import Arch, ArchError, parse_arch
from space.fbnet import fbnet_arch

MAX_ROWS = 20_000  # a file; parsing and checking takes about 1 ms a row
MAX_IMPORT_BATCH = 500  # rows per request: the CLI sends a file in batches under the body limit
MAX_ERRORS_SHOWN = 10
ARCH_COLUMNS = ("arch", "ops")


class LatencyCsvError(InvalidRequestError):
    """A file that cannot be imported; the message lists the offending rows."""


@dataclass(frozen=True)
class LatencyRow:
    arch: Arch
    ms: float


def _latency(text: str | None) -> float:
    if text is None or not text.strip():
        raise ValueError("latency is missing")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"latency {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"latency {text.strip()} must be a positive number of milliseconds")
    return value


def _arch(arch_column: str, text: str | None) -> Arch:
    if not text or not text.strip():
        raise ValueError(f"{arch_column} is missing")
    try:
        return fbnet_arch(text.split()) if arch_column == "ops" else parse_arch(text)
    except ArchError as exc:
        raise ValueError(str(exc)) from None


def _columns(header: list[str], column: str | None) -> tuple[str, str]:
    arch_columns = [name for name in ARCH_COLUMNS if name in header]
    if len(arch_columns) != 1:
        raise LatencyCsvError(
            f"the header needs exactly one of the columns {list(ARCH_COLUMNS)} "
            f"(canonical architecture strings, or FBNet op names); found {header}"
        )
    latencies = [name for name in header if name not in ARCH_COLUMNS]
    if column is None:
        if len(latencies) != 1:
            raise LatencyCsvError(f"name the latency column; the file has {latencies}")
        column = latencies[0]
    elif column not in latencies:
        raise LatencyCsvError(f"no latency column {column!r}; the file has {latencies}")
    return arch_columns[0], column


def read_latency_csv(text: str, column: str | None = None) -> list[LatencyRow]:
    """Parse and check every row; raise ``LatencyCsvError`` listing the first bad rows."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise LatencyCsvError("the file is empty; expected a header row")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    arch_column, latency_column = _columns(list(reader.fieldnames), column)
    rows: list[LatencyRow] = []
    errors: list[str] = []
    for number, record in enumerate(reader, start=1):
        if number > MAX_ROWS:
            raise LatencyCsvError(f"more than {MAX_ROWS} rows; split the file")
        try:
            rows.append(
                LatencyRow(
                    _arch(arch_column, record[arch_column]), _latency(record[latency_column])
                )
            )
        except ValueError as exc:
            errors.append(f"row {number}: {exc}")
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = (
            f" (and {len(errors) - MAX_ERRORS_SHOWN} more)"
            if len(errors) > MAX_ERRORS_SHOWN
            else ""
        )
        plural = "s" if len(errors) > 1 else ""
        raise LatencyCsvError(f"{len(errors)} bad row{plural}: {shown}{more}")
    if not rows:
        raise LatencyCsvError("the file has a header but no rows")
    return rows
