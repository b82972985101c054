"""The ``edgenas`` command line (composition root: it may import every package).

Heavy imports (torch, FastAPI, SQLAlchemy) happen inside the commands that need them, so a
device with only ``edgenas[agent]`` installed can run ``edgenas agent``.
"""

from __future__ import annotations

import typer

from api.cli.account_commands import keys_app, users_app
from api.cli.dataset_commands import app as datasets_app
from api.cli.demo_commands import demo
from api.cli.job_commands import app as jobs_app
from api.cli.latency_commands import app as latency_app
from api.cli.model_commands import app as models_app
from api.cli.model_commands import train
from api.cli.search_commands import app as search_app
from api.cli.server_commands import migrate, serve, worker
from api.cli.space_commands import app as space_app
from api.client.agent_command import agent

app = typer.Typer(help="EdgeNAS: hardware-aware neural architecture search.", no_args_is_help=True)
app.add_typer(space_app, name="space")
app.add_typer(latency_app, name="latency")
app.add_typer(search_app, name="search")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.add_typer(datasets_app, name="datasets")
app.add_typer(models_app, name="models")
app.command()(train)
app.command()(serve)
app.command()(worker)
app.command()(migrate)
app.command()(demo)
app.command()(agent)


def main() -> None:
    app()
