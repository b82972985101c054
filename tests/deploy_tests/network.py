"""Hosts for a deployment test: network namespaces joined by veth links to a switch (a
bridge in a namespace of its own), and one link from the test's own namespace so the test can
reach them as a client. Traffic stays inside these namespaces; links can be cut and restored
(this kernel has no netem, so a flaky network is a link going down and up).

Needs root and iproute2, as CI has.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.processes import wait_for_exit


def ip(*argv: str) -> str:
    return subprocess.run(
        ["ip", *argv], check=True, capture_output=True, text=True, timeout=30
    ).stdout


@dataclass(frozen=True)
class Host:
    """A namespace with one address on the switch."""

    name: str
    namespace: str
    address: str
    link: str  # the switch's end of its veth (cut it to take the host off the network)

    def argv(self, *argv: str) -> list[str]:
        """``argv`` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        return [int(pid) for pid in ip("netns", "pids", self.namespace).split()]


class Network:
    """A switch, hosts on it, and a link from this test's namespace (address ``.1``)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.subnet = _free_subnet()
        self.switch = f"ensw-{self.tag}"
        self.hosts: dict[str, Host] = {}
        self._addresses = self.subnet.hosts()
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        self.client_address = str(next(self._addresses))
        client = f"enc{self.tag}"
        self._plug(client)
        ip("addr", "add", f"{self.client_address}/{self.subnet.prefixlen}", "dev", client)
        ip("link", "set", client, "up")

    def _plug(self, outside: str, namespace: str | None = None) -> str:
        """A veth pair: ``outside`` (moved into ``namespace`` as ``eth0``), its peer a port
        of the switch; the port's name."""
        port = f"p{uuid.uuid4().hex[:8]}"
        ip("link", "add", outside, "type", "veth", "peer", "name", port)
        if namespace:
            ip("link", "set", outside, "netns", namespace)
            ip("-n", namespace, "link", "set", outside, "name", "eth0")
        ip("link", "set", port, "netns", self.switch)
        ip("-n", self.switch, "link", "set", port, "master", "br0")
        ip("-n", self.switch, "link", "set", port, "up")
        return port

    def add(self, name: str) -> Host:
        namespace = f"en{name}-{self.tag}"
        ip("netns", "add", namespace)
        address = str(next(self._addresses))
        port = self._plug(f"v{uuid.uuid4().hex[:8]}", namespace)
        ip("-n", namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        host = Host(name, namespace, address, port)
        self.hosts[name] = host
        return host

    def set_link(self, host: Host, up: bool) -> None:
        """Connect or cut ``host``: its switch port goes up or down."""
        ip("-n", self.switch, "link", "set", host.link, "up" if up else "down")

    def close(self) -> None:
        """Kill what runs on every host, then remove the namespaces (and their links)."""
        for host in self.hosts.values():
            pids = host.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            wait_for_exit(pids, 30)
            ip("netns", "delete", host.namespace)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "delete", f"enc{self.tag}")
        ip("netns", "delete", self.switch)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.0.0.0/8 that no route of this namespace covers."""
    routes = [
        ipaddress.ip_network(line.split()[0], strict=False)
        for line in ip("-4", "route").splitlines()
        if line and line.split()[0][0].isdigit()
    ]
    for _ in range(100):
        candidate = ipaddress.ip_network(
            f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(route) for route in routes):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 subnet")


@contextmanager
def network() -> Iterator[Network]:
    made = Network()
    try:
        yield made
    finally:
        made.close()
