"""The UI's plots as Plotly figure JSON, drawn in the browser by the installed plotly.js.

Each figure is a plain ``{"data": [...], "layout": {...}}`` so the page script hands it to
``Plotly.react`` as it is, and a refresh redraws in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from search.pareto import hypervolume_over_time, reference_point
from search.trial_record import TrialRecord

Figure = dict[str, Any]
FRONT_COLOUR = "#c2410c"
TRIAL_COLOUR = "#2563eb"
REFERENCE_COLOUR = "#6b7280"


@dataclass(frozen=True)
class Spread:
    """A measured latency's spread; predicted latencies have none."""

    spread_ms: float
    runs: int


@dataclass(frozen=True)
class ReferenceLatency:
    """A hand-designed network measured on the device at the job's input size."""

    name: str
    latency_ms: float


def _layout(title: str, x: str, y: str, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "xaxis": {"title": {"text": x}, "zeroline": False},
        "yaxis": {"title": {"text": y}, "zeroline": False},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.25},
        **more,
    }


def _hover(record: TrialRecord, device: str, spreads: Mapping[tuple[str, str], Spread]) -> str:
    latency = record.latency_ms[device]
    if device in record.latency_predicted:
        how = f"{latency:.2f} ms (predicted)"
    elif (spread := spreads.get((device, record.arch_hash))) is not None:
        how = f"{latency:.2f} ± {spread.spread_ms:.2f} ms (measured, {spread.runs} runs)"
    else:
        how = f"{latency:.2f} ms (measured)"
    stages = "<br>  ".join(record.arch.split("|"))
    return (
        f"<b>trial {record.number}</b><br>accuracy {record.accuracy:.4f}<br>"
        f"latency on {device}: {how}<br>params {record.params:,} · MACs {record.macs:,}"
        f"<br>{stages}"
    )


def pareto_figure(
    records: Sequence[TrialRecord],
    front: Sequence[TrialRecord],
    device: str,
    spreads: Mapping[tuple[str, str], Spread],
    references: Sequence[ReferenceLatency],
) -> Figure:
    """Accuracy against latency on one device: every trial, the front as a step line, and the
    reference networks measured on that device as labelled vertical lines."""
    in_front = {r.number for r in front}
    others = [r for r in records if r.number not in in_front]
    steps = sorted(front, key=lambda r: r.latency_ms[device])
    data: list[dict[str, Any]] = [  # the front first: it is never empty once a trial is done
        {
            **_points("Pareto front", steps, device, spreads, FRONT_COLOUR, 11),
            "mode": "lines+markers",
            "line": {"shape": "hv", "color": FRONT_COLOUR},
        },
        _points("trials", others, device, spreads, TRIAL_COLOUR, 7),
    ]
    shapes = [
        {
            "type": "line",
            "x0": ref.latency_ms,
            "x1": ref.latency_ms,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dot", "color": REFERENCE_COLOUR},
        }
        for ref in references
    ]
    notes = [
        {
            "x": ref.latency_ms,
            "yref": "paper",
            "y": 1 - 0.06 * (i % 4),
            "text": ref.name,
            "showarrow": False,
            "xanchor": "left",
            "font": {"size": 10, "color": REFERENCE_COLOUR},
        }
        for i, ref in enumerate(references)
    ]
    return {
        "data": data,
        "layout": _layout(
            f"Accuracy against latency on {device}",
            f"latency on {device} (ms)",
            "accuracy",
            shapes=shapes,
            annotations=notes,
        ),
    }


def _points(
    name: str,
    records: Sequence[TrialRecord],
    device: str,
    spreads: Mapping[tuple[str, str], Spread],
    colour: str,
    size: int,
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": [r.latency_ms[device] for r in records],
        "y": [r.accuracy for r in records],
        "customdata": [r.number for r in records],
        "text": [_hover(r, device, spreads) for r in records],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"color": colour, "size": size},
    }


def two_device_figure(
    records: Sequence[TrialRecord], front: Sequence[TrialRecord], devices: Sequence[str]
) -> Figure:
    """Latency on one device against the other, coloured by accuracy: where the devices
    disagree about which network is fast."""
    first, second = devices[0], devices[1]
    in_front = {r.number for r in front}
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "name": "trials",
                "x": [r.latency_ms[first] for r in records],
                "y": [r.latency_ms[second] for r in records],
                "customdata": [r.number for r in records],
                "text": [
                    f"trial {r.number}{' (front)' if r.number in in_front else ''}"
                    f"<br>accuracy {r.accuracy:.4f}"
                    for r in records
                ],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "color": [r.accuracy for r in records],
                    "colorscale": "Viridis",
                    "showscale": True,
                    "colorbar": {"title": {"text": "accuracy"}},
                    "size": [12 if r.number in in_front else 7 for r in records],
                    "line": {"width": [2 if r.number in in_front else 0 for r in records]},
                },
            }
        ],
        "layout": _layout(f"Latency on {first} and {second}", f"{first} (ms)", f"{second} (ms)"),
    }


def hypervolume_figure(records: Sequence[TrialRecord], devices: Sequence[str]) -> Figure:
    """The front's hypervolume after each finished trial, in trial order."""
    done = [r for r in records if r.feasible and not r.stopped_early and r.state == "complete"]
    points = [r.point(devices) for r in done]
    maximize = [True] + [False] * len(devices)
    reference = reference_point(maximize, [None] * len(maximize), points)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "hypervolume",
                "x": [r.number for r in done],
                "y": hypervolume_over_time(points, maximize, reference) if points else [],
                "line": {"shape": "hv", "color": FRONT_COLOUR},
            }
        ],
        "layout": _layout("Hypervolume over trials", "trial", "hypervolume"),
    }


def curves_figure(records: Sequence[TrialRecord]) -> Figure:
    """Validation accuracy after each epoch, one line per trial."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"trial {r.number}",
                "x": list(range(1, len(r.epoch_accuracies) + 1)),
                "y": list(r.epoch_accuracies),
            }
            for r in records
        ],
        "layout": _layout("Accuracy per epoch", "epoch", "validation accuracy"),
    }
