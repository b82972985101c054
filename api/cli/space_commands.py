"""``edgenas space ...``: inspect, sample and export architectures, and the reference tour."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.client.options import fail
from space import Arch, SpaceError
from space.profiler import Profile, profile_arch
from space.references import resolve_arch

app = typer.Typer(help="Architectures: show, sample, export, tour.", no_args_is_help=True)
MIN_TABLE_WIDTH = 110  # tables stay readable when printed to a pipe or a CI log


def _console() -> Console:
    return Console(width=max(Console().width, MIN_TABLE_WIDTH))


MAX_SAMPLES = 10_000


def _load(name_or_string: str, resolution: int | None, classes: int | None) -> Arch:
    """An architecture by name or string, optionally at another resolution or class count."""
    try:
        arch = resolve_arch(name_or_string)
        if resolution is not None or classes is not None:
            arch = replace(
                arch,
                resolution=resolution or arch.resolution,
                num_classes=classes or arch.num_classes,
            )
        return arch
    except SpaceError as exc:
        raise fail(str(exc)) from None


def _layer_table(profile: Profile) -> Table:
    table = Table(title=profile.arch, title_justify="left", show_footer=True)
    table.add_column("layer", footer="total")
    table.add_column("block", overflow="fold")
    table.add_column("output (CxHxW)", justify="right")
    table.add_column("params", justify="right", footer=f"{profile.params:,}")
    table.add_column("MACs", justify="right", footer=f"{profile.macs:,}")
    table.add_column(
        "peak act. KiB", justify="right", footer=f"{profile.peak_activation_bytes / 1024:,.0f}"
    )
    for row in profile.layers:
        table.add_row(
            row.name,
            row.block,
            "x".join(map(str, row.out_shape)),
            f"{row.params:,}",
            f"{row.macs:,}",
            f"{row.peak_activation_bytes / 1024:,.0f}",
        )
    return table


@app.command()
def show(
    name_or_string: Annotated[str, typer.Argument(help="Reference name or architecture string")],
    resolution: Annotated[int | None, typer.Option(help="Input resolution override")] = None,
    classes: Annotated[int | None, typer.Option(help="Number of classes override")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Per-layer table of an architecture: block, output shape, params, MACs; totals."""
    arch = _load(name_or_string, resolution, classes)
    profile = profile_arch(arch)
    if as_json:
        typer.echo(json.dumps({"hash": arch.hash, **profile.to_dict()}))
    else:
        console = _console()
        console.print(_layer_table(profile))
        console.print(f"hash {arch.hash}", highlight=False)


@app.command()
def sample(
    space_name: Annotated[str, typer.Argument(help="Search space preset")],
    n: Annotated[int, typer.Option("-n", help="How many architectures")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Print N architecture strings drawn uniformly from a search space."""
    from space.presets import search_space

    if not 1 <= n <= MAX_SAMPLES:
        raise fail(f"-n {n}: must be between 1 and {MAX_SAMPLES}")
    try:
        space = search_space(space_name)
    except SpaceError as exc:
        raise fail(str(exc)) from None
    rng = random.Random(seed)
    for _ in range(n):
        typer.echo(str(space.decode(space.sample(rng))))


@app.command()
def export(
    name_or_string: Annotated[str, typer.Argument(help="Reference name or architecture string")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the ONNX file")],
    resolution: Annotated[int | None, typer.Option(help="Input resolution override")] = None,
    classes: Annotated[int | None, typer.Option(help="Number of classes override")] = None,
    seed: Annotated[int, typer.Option(help="Weight initialisation seed")] = 0,
) -> None:
    """Export an architecture to ONNX (batch 1, checked with onnx.checker)."""
    from space.export import export_onnx

    arch = _load(name_or_string, resolution, classes)
    if output.parent and not output.parent.exists():
        raise fail(f"directory {output.parent} does not exist")
    export_onnx(arch, output, seed=seed)
    typer.echo(f"wrote {output} ({output.stat().st_size:,} bytes) for {arch.hash}")


@app.command()
def tour(
    runs: Annotated[int, typer.Option(help="Timed ONNX Runtime runs per network")] = 30,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads")] = 1,
) -> None:
    """Every reference network: params, MACs and ONNX Runtime latency on this CPU."""
    from api.cli.tour import reference_tour

    if not 1 <= runs <= 1000:
        raise fail(f"--runs {runs}: must be between 1 and 1000")
    table = Table(
        title=f"Reference networks (latency: ONNX Runtime, {threads} thread"
        f"{'s' if threads > 1 else ''}, batch 1)"
    )
    for column in ("network", "input", "params", "MACs (M)", "median ms", "p90 ms", "hash"):
        table.add_column(column, justify="left" if column in ("network", "hash") else "right")
    console = _console()
    with console.status("exporting and timing...") as status:
        for row in reference_tour(runs=runs, threads=threads):
            status.update(f"timed {row['name']}")
            table.add_row(
                row["name"],
                row["input"],
                f"{row['params']:,}",
                f"{row['macs'] / 1e6:.1f}",
                f"{row['median_ms']:.2f}",
                f"{row['p90_ms']:.2f}",
                row["hash"],
            )
    console.print(table)
