"""The search progress bar of ``edgenas search run`` and ``edgenas demo``."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


def search_progress(console: Console) -> Progress:
    """Bar, trials done of the budget, and a free-text line the caller updates."""
    return Progress(
        TextColumn("[bold]search"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
    )
