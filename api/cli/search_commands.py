"""``edgenas search run``: a whole search in this process, latency timed here with ONNX
Runtime (the device ``local``). Jobs on registered devices go through the server instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.client.options import fail
from latency.local import LOCAL, local_latency

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from search.trial_record import TrialRecord
    from workers.spec import ResolvedJob

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
    trials: Annotated[int, typer.Option(help="Trials (the job spec's budget.trials)")] = 30,
    seed: Annotated[int, typer.Option()] = 0,
    epochs: Annotated[int, typer.Option(help="Proxy epochs")] = 3,
    train_images: Annotated[int, typer.Option(help="Proxy training images")] = 4000,
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
    int8: Annotated[
        bool, typer.Option(help="pareto mode: also each candidate at int8 (a second point)")
    ] = False,
    size: Annotated[bool, typer.Option(help="pareto mode: the weights' bytes an objective")] = (
        False
    ),
    out: Annotated[Path | None, typer.Option(help="Write results.json and the plots here")] = None,
) -> None:
    """Search SPACE on DATA for accurate networks that are fast on this machine."""
    import optuna

    from search.early_stop import StudyFront
    from search.engine import run_trial
    from search.study import create_study
    from workers.low_precision import LocalInt8

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says it all
    if device != LOCAL:
        raise fail(f"device {device!r}: in-process searches time on 'local' only")
    spec = {
        "name": "edgenas search run",
        "space": space,
        "data": data,
        "devices": [LOCAL],
        "objective": {"mode": mode, "early_stop": early_stop, "size": size}
        | ({"reward": reward} if mode == "mnas" else {})
        | ({"targets_ms": {LOCAL: target_ms}} if target_ms is not None else {}),
        "strategy": {"name": strategy},
        "proxy": {"epochs": epochs, "train_images": train_images},
        "zero_cost": {"proxy": zero_cost, "action": zero_cost_action, "prefer": zero_cost_prefer}
        if zero_cost
        else None,
        "budget": {"trials": trials},
        "precision": ["fp32", "int8"] if int8 else ["fp32"],
        "seed": seed,
    }
    job = _resolve(spec)
    study = create_study(job.settings)
    latency = local_latency(latency_runs)
    low_precision = LocalInt8() if len(job.settings.precisions) > 1 else None
    records: list[TrialRecord] = []
    front = StudyFront()
    with _progress() as (progress, task):
        progress.update(task, total=trials)
        for _ in range(trials):
            record = run_trial(
                study, job.settings, job.train, job.validation, latency, front, low_precision
            )
            records.append(record)
            progress.update(task, advance=1, description=_progress_line(records))
    _report(records, out, job.settings.size_objective)


# The job spec's fields as this command's flags, so that a refused value names the flag.
FLAGS = {
    "objective.mode": "--mode",
    "objective.targets_ms": "--target-ms",
    "objective.reward": "--reward",
    "strategy.name": "--strategy",
    "proxy.epochs": "--epochs",
    "proxy.train_images": "--train-images",
    "zero_cost.proxy": "--zero-cost",
    "zero_cost.action": "--zero-cost-action",
    "zero_cost.prefer": "--zero-cost-prefer",
    "budget.trials": "--trials",
}


def _resolve(spec: dict[str, Any]) -> ResolvedJob:
    """The spec checked and resolved as a job's is (``workers.spec``), or one error line."""
    from pydantic import ValidationError

    from workers.spec import JobSpec, SpecError, resolve

    try:
        return resolve(JobSpec.model_validate(spec))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if field in FLAGS:
            raise fail(f"{FLAGS[field]} {error['input']!r}: {message}") from None
        raise fail(f"{field}: {message}" if field else message) from None
    except SpecError as exc:
        raise fail(str(exc)) from None


@contextmanager
def _progress() -> Iterator[tuple[Progress, TaskID]]:
    from rich.console import Console

    from api.cli.progress_bar import search_progress

    with search_progress(Console()) as progress:
        yield progress, progress.add_task("")


def _report(records: list[TrialRecord], out: Path | None, size: bool) -> None:
    """The front as a table, its hypervolume and, with ``--out``, the result files."""
    from rich.console import Console

    from api.cli.front_table import front_table
    from search.results import summary, write_results

    console = Console()
    result = summary(records, (LOCAL,), size)
    console.print(front_table(result["front"], LOCAL, f"Pareto front ({len(records)} trials)"))
    console.print(f"hypervolume {result['hypervolume']:.4f}")
    if out is not None:
        for path in write_results(out, records, (LOCAL,), size):
            console.print(f"wrote {path}")


def _progress_line(records: list[TrialRecord]) -> str:
    """The last trial and the best accuracy so far (zero-cost skipped trials have none)."""
    last = records[-1]
    scored = [r.accuracy for r in records if r.accuracy is not None]
    best = f"best accuracy {max(scored):.3f}" if scored else "none trained yet"
    if last.accuracy is None:
        return f"last skipped by the zero-cost pre-screen, {best}"
    return f"last {last.accuracy:.3f} @ {last.latency_ms[LOCAL]:.2f} ms, {best}"
