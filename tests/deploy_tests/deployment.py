"""EdgeNAS deployed as docker-compose.yml deploys it, with hosts as network namespaces
instead of containers (no Docker engine runs here):

- ``db``: a throwaway PostgreSQL cluster;
- ``api``: ``edgenas serve --runners 0``;
- ``head``: ``ray start --head`` and an ``edgenas worker`` (``EDGENAS_RAY_ADDRESS``);
- ``node2``: ``ray start --address`` joining the head, and a second ``edgenas worker``;
- ``lab``: an agent that registers itself and reaches the API only through the network.

The test itself is a client on the switch, like a user's laptop. Every process writes its
output to a log file named after its host, so a failure can say what each host printed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.databases import ThrowawayPostgres, operator_command, throwaway_postgres
from tests.deploy_tests.network import Host, Network, network
from tests.processes import Spawner
from tests.workers_tests.tiny_jobs import wait_until

API_PORT = 8000
RAY_PORT = 6380  # beside, not on, the machine's Redis port (6379)
RAY = str(Path(sys.executable).parent / "ray")
START_SECONDS = 180
NODE_ID = re.compile(r"node_([0-9a-f]{56})")


@dataclass
class Deployment:
    """The running hosts, the database, an operator's API key, and the processes started."""

    net: Network
    database: ThrowawayPostgres
    key: str
    spawn: Spawner
    logs: Path
    environment: dict[str, str]
    ray_dir: Path  # Ray's files (sessions, sockets, logs), this deployment's alone
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.net.hosts['api'].address}:{API_PORT}"

    def user(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )

    def start(self, name: str, host: str, *argv: str, **extra_env: str) -> None:
        """``argv`` on ``host``, its output in ``logs/<name>.log``."""
        with (self.logs / f"{name}.log").open("a") as log:
            self.processes[name] = self.spawn(
                self.net.hosts[host].argv(*argv),
                env={**self.environment, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def process_on(self, host: str, program: str) -> int:
        """The pid of the process on ``host`` whose program is named ``program``."""
        for pid in self.net.hosts[host].pids():
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
            if Path(argv[0].decode()).name == program:
                return pid
        raise AssertionError(f"no {program} on {host}")

    def restart_api(self) -> None:
        """Kill the API server outright, and start it again as before."""
        killed = self.processes.pop("api")
        killed.kill()
        killed.wait(timeout=60)
        self.start_api()

    def start_api(self) -> None:
        api = self.net.hosts["api"]
        self.start(
            "api", "api", sys.executable, "-m", "api", "serve", "--runners", "0",
            "--host", api.address, "--port", str(API_PORT),
        )  # fmt: skip

    def ray_nodes(self) -> set[str]:
        """The ids of the Ray cluster's live nodes, as ``ray status`` on the head says."""
        head = self.net.hosts["head"]
        status = subprocess.run(
            head.argv(RAY, "status", "--address", f"{head.address}:{RAY_PORT}"),
            capture_output=True,
            text=True,
            timeout=60,
            env=self.environment,
        )
        if status.returncode != 0:
            return set()
        active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return set(NODE_ID.findall(active))

    def describe(self) -> str:
        """What every host printed last: for an assertion's message."""
        return "\n".join(
            f"--- {log.stem}\n{log.read_text()[-3000:]}" for log in sorted(self.logs.glob("*.log"))
        )


def start_ray_node(deployment: Deployment, host: Host, *role: str) -> None:
    """A Ray node on ``host``. Its files go to a folder of this deployment's: in Ray's default
    one, ``ray start`` would name this cluster the machine's current one, which other tests'
    ``ray.init()`` would then join."""
    deployment.start(
        f"ray-{host.name}",
        host.name,
        RAY,
        "start",
        *role,
        f"--temp-dir={deployment.ray_dir}",
        f"--node-ip-address={host.address}",
        "--num-cpus=1",
        "--disable-usage-stats",
        "--block",
    )


@contextmanager
def deployed(spawn: Spawner, logs: Path) -> Iterator[Deployment]:
    """The whole deployment, running and ready: the API answers /readyz, both Ray nodes are
    in the cluster, both workers run, and the agent's device ``lab-cpu`` is online."""
    ray_dir = Path(tempfile.mkdtemp(prefix="enray-"))
    try:
        with _deployed(spawn, logs, ray_dir) as deployment:
            yield deployment
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)


@contextmanager
def _deployed(spawn: Spawner, logs: Path, ray_dir: Path) -> Iterator[Deployment]:
    with network() as net:
        db, _, head, node2, _ = (net.add(name) for name in ("db", "api", "head", "node2", "lab"))
        place = {"host": db.address, "prefix": db.argv(), "clients": str(net.subnet)}
        with throwaway_postgres(5432, **place) as database:
            assert operator_command("users", "create", "ops", url=database.url).returncode == 0
            made = operator_command("keys", "create", "--user", "ops", url=database.url)
            assert made.returncode == 0, made.stderr
            environment = {
                **os.environ,
                "EDGENAS_DATABASE_URL": database.url,
                "PYTHONUNBUFFERED": "1",
                "RAY_AUTH_MODE": "token",  # one cluster token, as docker-compose.yml has it
                "RAY_AUTH_TOKEN": secrets.token_hex(32),
            }
            deployment = Deployment(
                net, database, made.stdout.strip(), spawn, logs, environment, ray_dir
            )
            deployment.start_api()
            start_ray_node(deployment, head, "--head", f"--port={RAY_PORT}")
            wait_until(lambda: len(deployment.ray_nodes()) == 1, START_SECONDS, "the Ray head")
            start_ray_node(deployment, node2, f"--address={head.address}:{RAY_PORT}")
            wait_until(lambda: len(deployment.ray_nodes()) == 2, START_SECONDS, "Ray's node2")
            ray_address = f"{head.address}:{RAY_PORT}"
            for host in ("head", "node2"):
                deployment.start(
                    f"worker-{host}", host, sys.executable, "-m", "api", "worker",
                    EDGENAS_RAY_ADDRESS=ray_address,
                )  # fmt: skip
            with deployment.user() as user:
                wait_until(lambda: _ready(user), START_SECONDS, "the API's /readyz")
                deployment.start(
                    "agent", "lab", sys.executable, "-m", "api", "agent", "--server",
                    deployment.api_url, "--register", "lab-cpu", "--config",
                    str(logs / "agent.json"), "--wait", "5",
                    EDGENAS_API_KEY=deployment.key,
                )  # fmt: skip
                wait_until(lambda: _online(user, "lab-cpu"), START_SECONDS, "the lab's agent")
            yield deployment


def _ready(user: httpx.Client) -> bool:
    try:
        return user.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def _online(user: httpx.Client, device: str) -> bool:
    return any(d["name"] == device and d["online"] for d in user.get("/v1/devices").json())
