"""The Pareto front as a terminal table (``edgenas search run`` and ``edgenas demo``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table


def front_table(members: Iterable[Mapping[str, Any]], device: str, title: str) -> Table:
    """One row per front member: number, precision, accuracy, latency on ``device``, size, the
    full architecture string (folded, never cut: it is what a user copies)."""
    table = Table(title=title)
    for column in ("#", "precision", "accuracy", "latency ms", "params", "MACs"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("architecture", overflow="fold")
    for member in members:
        table.add_row(
            str(member["number"]),
            member.get("precision", "fp32"),
            f"{member['accuracy']:.3f}",
            f"{member['latency_ms'][device]:.3f}",
            f"{member['params']:,}",
            f"{member['macs'] / 1e6:.1f}M",
            member["arch"],
        )
    return table
