"""A search's results: the trial records, the Pareto front, JSON and the front plot.

The plot is written twice: ``pareto.html`` (plotly, with plotly.js embedded so it opens
offline) and ``pareto.png`` (matplotlib). Both show every trial's accuracy against its latency
on the first device, the front highlighted, stopped-early trials hollow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

from search.pareto import hypervolume, pareto_front, reference_point
from search.trial_record import TrialRecord, precision_points


def front_of(
    records: Sequence[TrialRecord], devices: Sequence[str], size: bool = False
) -> list[TrialRecord]:
    """The feasible points of fully trained trials (each trial's point at every precision it
    was evaluated at) that no other such point dominates (in accuracy, latency and, with
    ``size``, the weights' bytes), fastest first."""
    trained = [r for r in records if not r.stopped_early and r.state == "complete"]
    pool = [p for r in trained for p in precision_points(r) if p.feasible]
    points = [r.point(devices, size) for r in pool]
    maximize = [True] + [False] * (len(devices) + size)
    members = [pool[i] for i in pareto_front(points, maximize)]
    return sorted(members, key=lambda r: r.latency_ms[devices[0]])


class Summary(TypedDict):
    """What a search found: counts, the front (as JSON objects) and its hypervolume."""

    trial_count: int
    stopped_early: int
    screened_out: int
    front: list[dict[str, Any]]
    hypervolume: float
    reference_point: list[float]


def summary(records: Sequence[TrialRecord], devices: Sequence[str], size: bool = False) -> Summary:
    front = front_of(records, devices, size)
    points = [r.point(devices, size) for r in front]
    maximize = [True] + [False] * (len(devices) + size)
    reference = reference_point(maximize, [None] * len(maximize), points)
    return {
        "trial_count": len(records),
        "stopped_early": sum(r.stopped_early for r in records),
        "screened_out": sum(r.state == "screened" for r in records),
        "front": [asdict(r) for r in front],
        "hypervolume": hypervolume(points, maximize, reference) if points else 0.0,
        "reference_point": reference,
    }


def write_results(
    folder: Path, records: Sequence[TrialRecord], devices: Sequence[str], size: bool = False
) -> list[Path]:
    """``results.json``, ``pareto.html`` and ``pareto.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.json"
    results.write_text(
        json.dumps(
            {
                "devices": list(devices),
                "trials": [asdict(r) for r in records],
                **summary(records, devices, size),
            },
            indent=2,
        )
    )
    return [results, *_plots(folder, records, devices[0])]


def _groups(records: Sequence[TrialRecord], device: str) -> dict[str, list[TrialRecord]]:
    """The plotted groups: front members (at any precision), other trained trials, stopped-
    early ones."""
    front = front_of(records, [device])
    on_front = {(r.number, r.precision) for r in front}
    scored = [r for r in records if r.accuracy is not None]  # not the zero-cost skipped
    return {
        "Pareto front": front,
        "trained": [
            r for r in scored if (r.number, r.precision) not in on_front and not r.stopped_early
        ],
        "stopped early": [r for r in scored if r.stopped_early],
    }


def pareto_html(records: Sequence[TrialRecord], device: str) -> str:
    """An interactive plot, plotly.js embedded so that it opens offline."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, members in _groups(records, device).items():
        figure.add_trace(
            go.Scatter(
                x=[r.latency_ms[device] for r in members],
                y=[r.point((device,))[0] for r in members],
                mode="markers",
                name=name,
                text=[f"#{r.number} {r.precision} {r.arch}" for r in members],
                marker={"symbol": "circle-open" if name == "stopped early" else "circle"},
            )
        )
    figure.update_layout(xaxis_title=f"latency on {device} (ms)", yaxis_title="accuracy")
    return figure.to_html(include_plotlyjs=True)


def pareto_png(records: Sequence[TrialRecord], device: str) -> bytes:
    """The same plot as a PNG (matplotlib)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(7, 4.5))
    axes = figure.gca()
    for name, members in _groups(records, device).items():
        axes.scatter(
            [r.latency_ms[device] for r in members],
            [r.point((device,))[0] for r in members],
            label=name,
            facecolors="none" if name == "stopped early" else None,
            edgecolors="grey" if name == "stopped early" else None,
        )
    axes.set_xlabel(f"latency on {device} (ms)")
    axes.set_ylabel("accuracy")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _plots(folder: Path, records: Sequence[TrialRecord], device: str) -> list[Path]:
    html, png = folder / "pareto.html", folder / "pareto.png"
    html.write_text(pareto_html(records, device))
    png.write_bytes(pareto_png(records, device))
    return [html, png]
