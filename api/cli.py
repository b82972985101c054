"""The ``edgenas`` command line (composition root: it may import every package)."""

from __future__ import annotations

import typer

from api.space_commands import app as space_app

app = typer.Typer(help="EdgeNAS: hardware-aware neural architecture search.", no_args_is_help=True)
app.add_typer(space_app, name="space")


def main() -> None:
    app()
