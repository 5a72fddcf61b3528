"""A real Ray cluster on this machine for the `ray` executor's tests: `ray start --head` and worker nodes,
each with its own ports, all in one temp dir, on 127.0.0.1 only.

Ray assumes a multi-node cluster spans machines and rewrites 127.0.0.1 to the host's routable address,
which the tests must not use (they talk to 127.0.0.1 only). So: the head and the build's process run
with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray then keeps loopback addresses; the flag only gates
`ray start` of a worker node), and worker nodes are started through `ray start` with the rewrite
turned off (`_WORKER_NODE`). For the tests, health checks every 0.5 s make a killed node count as dead
within ~2 s (they cost CPU: benchmarks use Ray's defaults).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = [sys.executable, "-m", "ray.scripts.scripts"]
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
_FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
                       "RAY_health_check_initial_delay_ms": "0"}
_WORKER_NODE = (
    "import sys, ray._private.services as s; s.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRayCluster:
    def __init__(self, fast_failure_detection: bool = True) -> None:
        """`fast_failure_detection`: 0.5 s health checks (the node-kill test); off, Ray's defaults (benchmarks)."""
        # short: Ray's unix sockets live under it and their paths may not pass 107 characters
        self.temp_dir = Path(tempfile.mkdtemp(prefix="er-", dir="/tmp"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, **LOOPBACK_ENV, **(_FAST_HEALTH_CHECKS if fast_failure_detection else {})}
        self._nodes: list[subprocess.Popen] = []

    def start_head(self, cpus: int) -> None:
        self._start([*RAY, "start", "--head", "--port", str(self.port), "--node-ip-address", "127.0.0.1",
                     "--ray-client-server-port", str(_free_port()), "--include-dashboard", "false", *self._node_args(cpus, None)])

    def add_node(self, cpus: int, resource: str) -> subprocess.Popen:
        """A worker node in its own process group (so killing the group is losing the node)."""
        env = {**self.env}
        env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
        return self._start([sys.executable, "-c", _WORKER_NODE, "start", "--address", self.address,
                            "--node-ip-address", "127.0.0.1", *self._node_args(cpus, resource)], env)

    def _node_args(self, cpus: int, resource: str | None) -> list[str]:
        ports = ["--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
                 "--dashboard-agent-grpc-port", "--dashboard-agent-listen-port"]
        return ["--num-cpus", str(cpus), "--temp-dir", str(self.temp_dir), "--disable-usage-stats", "--block", *(a for flag in ports for a in (flag, str(_free_port()))),
                *(["--resources", json.dumps({resource: 1})] if resource else [])]

    def _start(self, command: list[str], env: dict | None = None) -> subprocess.Popen:
        before = len(self.nodes())
        log = (self.temp_dir / f"node{len(self._nodes)}.log").open("w")
        process = subprocess.Popen(command, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self._nodes.append(process)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"ray start exited {process.returncode}: {log.name}")
            if len(self.nodes()) > before:
                return process
            time.sleep(0.5)
        raise RuntimeError(f"the Ray node did not join within 120 s: {log.name}")

    def nodes(self) -> list[dict]:
        """Live nodes (NodeID, Resources), asked from a separate driver process."""
        if not self._nodes:
            return []
        probe = ("import json, ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
                 "print(json.dumps([n for n in ray.nodes() if n['Alive']], default=str))") % self.address
        done = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode:
            return []
        return json.loads(done.stdout.strip().splitlines()[-1])

    def label_of(self, resource: str) -> str:
        """How progress lines and report.json name the node holding `resource` (ray_node.node_label)."""
        node = next(n for n in self.nodes() if resource in n["Resources"])
        return f"127.0.0.1/{node['NodeID'][:12]}"

    @staticmethod
    def kill(node: subprocess.Popen) -> None:
        """Lose a node: SIGKILL to `ray start --block`, its raylet and everything else in its group."""
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()

    def stop(self) -> None:
        for node in reversed(self._nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        for node in self._nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-9", "-f", str(self.temp_dir)], check=False)  # workers that outlived their raylet
        shutil.rmtree(self.temp_dir, ignore_errors=True)
