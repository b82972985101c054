"""``edgenas search run``: a whole search in this process, latency timed here with ONNX
Runtime (the device ``local``). Jobs on registered devices go through the server instead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.client.options import fail
from latency.local import LOCAL

app = typer.Typer(help="Architecture search.", no_args_is_help=True)


@app.command()
def run(
    space: Annotated[str, typer.Option(help="Search space preset")] = "mnasnet",
    data: Annotated[str, typer.Option(help="mnist5k, an image folder or an .npz")] = "mnist5k",
    device: Annotated[str, typer.Option(help="Only 'local' (this CPU) in-process")] = LOCAL,
    mode: Annotated[str, typer.Option(help="pareto or mnas")] = "pareto",
    target_ms: Annotated[
        float | None, typer.Option(help="mnas mode: latency target T in ms")
    ] = None,
    reward: Annotated[str, typer.Option(help="mnas mode: soft or hard")] = "soft",
    strategy: Annotated[str, typer.Option(help="random, tpe, nsga2, nsga3, evolution, rl")] = (
        "tpe"
    ),
    trials: Annotated[int, typer.Option(min=1, max=10_000)] = 30,
    seed: Annotated[int, typer.Option()] = 0,
    epochs: Annotated[int, typer.Option(min=1, max=200, help="Proxy epochs")] = 3,
    train_images: Annotated[int, typer.Option(min=10, help="Proxy training images")] = 4000,
    latency_runs: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    early_stop: Annotated[
        bool, typer.Option(help="pareto mode: stop candidates the front clearly dominates")
    ] = True,
    zero_cost: Annotated[
        str | None, typer.Option(help="Score candidates first: synflow, naswot or grad_norm")
    ] = None,
    zero_cost_action: Annotated[
        str, typer.Option(help="rank (record the score) or prescreen (skip the worse half)")
    ] = "prescreen",
    zero_cost_prefer: Annotated[
        str | None, typer.Option(help="high or low scores are better (default: measured)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write results.json and the plots here")] = None,
) -> None:
    """Search SPACE on DATA for accurate networks that are fast on this machine."""
    import optuna
    from rich.console import Console

    from api.cli.front_table import front_table
    from api.cli.progress_bar import search_progress
    from latency.local import local_latency
    from search.data import DataError, load_dataset
    from search.engine import run_trial
    from search.objectives import MnasReward
    from search.results import summary, write_results
    from search.screening import ZeroCostScreen
    from search.study import SearchSettings, create_study
    from search.train import ProxySettings
    from space.presets import search_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says it all
    if device != LOCAL:
        raise fail(f"device {device!r}: in-process searches time on 'local' only")
    try:
        dataset = load_dataset(data)
        chosen = search_space(space).with_task(
            resolution=dataset.resolution,
            in_channels=dataset.channels,
            num_classes=len(dataset.classes),
        )
        mnas = None
        if mode == "mnas":
            if target_ms is None:
                raise ValueError("mode 'mnas' needs --target-ms")
            mnas = MnasReward.preset(reward, {LOCAL: target_ms})
        settings = SearchSettings(
            space=chosen,
            devices=(LOCAL,),
            mode=mode,  # type: ignore[arg-type]
            reward=mnas,
            strategy=strategy,
            trials=trials,
            seed=seed,
            proxy=ProxySettings(epochs=epochs, train_images=train_images, seed=seed),
            early_stop=early_stop,
            zero_cost=(
                ZeroCostScreen(zero_cost, zero_cost_action, zero_cost_prefer)  # type: ignore[arg-type]
                if zero_cost
                else None
            ),
        )
        study = create_study(settings)
    except (DataError, ValueError, KeyError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    train, validation = dataset.split(0.2, seed)
    latency = local_latency(latency_runs)
    console = Console()
    records = []
    with search_progress(console) as progress:
        task = progress.add_task("", total=trials)
        for _ in range(trials):
            record = run_trial(study, settings, train, validation, latency)
            records.append(record)
            progress.update(task, advance=1, description=_progress_line(records))
    result = summary(records, (LOCAL,))
    table = front_table(result["front"], LOCAL, f"Pareto front ({len(records)} trials)")  # type: ignore[arg-type]
    console.print(table)
    console.print(f"hypervolume {result['hypervolume']:.4f}")
    if out is not None:
        for path in write_results(out, records, (LOCAL,)):
            console.print(f"wrote {path}")


def _progress_line(records: list) -> str:  # type: ignore[type-arg]
    """The last trial and the best accuracy so far (zero-cost skipped trials have none)."""
    last = records[-1]
    scored = [r.accuracy for r in records if r.accuracy is not None]
    best = f"best accuracy {max(scored):.3f}" if scored else "none trained yet"
    if last.accuracy is None:
        return f"last skipped by the zero-cost pre-screen, {best}"
    return f"last {last.accuracy:.3f} @ {last.latency_ms[LOCAL]:.2f} ms, {best}"
