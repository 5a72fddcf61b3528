"""`ssh:USER@HOST[:PORT]`: benchmark on a Linux board (Jetson, Raspberry Pi) with the system OpenSSH.

Copies the artifact and the harness's Python runner (targets/jetson/bench_runner.py, the same file
`edge-sdk build` puts in harness/) into a fresh temp dir on the board, runs it with the board's Python
and its installed runtime, streams the JSON lines back and removes the temp dir. BatchMode (no password
prompts), ConnectTimeout and ServerAliveInterval bound every wait; a dropped link keeps the finished runs.
`.onnx` artifacts go to TensorRT on the board (devices/tensorrt.py), through the same helpers.
"""

from __future__ import annotations

import shlex
import subprocess
from contextlib import contextmanager
from typing import Iterator

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, register_runner
from edge_sdk.devices.harness import PYTHON_RUNNER
from edge_sdk.devices.host import runner_args
from edge_sdk.devices.process import run_and_collect
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult

ALIVE_INTERVAL_S, ALIVE_COUNT = 2, 3  # a dead link is noticed within ~6 s


def _options(config: BenchConfig) -> list[str]:
    opts = ["BatchMode=yes", f"ConnectTimeout={max(1, int(config.connect_timeout_s))}",
            f"ServerAliveInterval={ALIVE_INTERVAL_S}", f"ServerAliveCountMax={ALIVE_COUNT}", *config.ssh_options]
    args = [a for o in opts for a in ("-o", o)]
    return args + (["-i", str(config.identity)] if config.identity else [])


def _destination(address: Address) -> str:
    return f"{address.user}@{address.host}" if address.user else str(address.host)


def ssh_command(address: Address, config: BenchConfig, remote: str) -> list[str]:
    port = ["-p", str(address.port)] if address.port else []
    return ["ssh", *_options(config), *port, _destination(address), remote]


def scp_command(address: Address, config: BenchConfig, sources: list[str], remote_dir: str) -> list[str]:
    port = ["-P", str(address.port)] if address.port else []
    return ["scp", "-q", "-r", *_options(config), *port, *sources, f"{_destination(address)}:{remote_dir}/"]


def _check(cmd: list[str], timeout_s: float, what: str, address: Address) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise DeviceError(f"{cmd[0]} not found; install the OpenSSH client (apt-get install openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{address}: {what} timed out after {timeout_s:g} s") from None
    if done.returncode != 0:
        err = " | ".join(l for l in done.stderr.strip().splitlines() if l.strip())[-300:] or f"exit status {done.returncode}"
        raise DeviceError(f"{address}: {what} failed: {err}")
    return done.stdout


def remote_text(address: Address, config: BenchConfig, command: str, what: str) -> str:
    """The stdout of a short `command` on the board (bounded by the connect timeout + 20 s)."""
    return _check(ssh_command(address, config, command), config.connect_timeout_s + 20, what, address)


@contextmanager
def remote_workdir(address: Address, config: BenchConfig, files: list[str]) -> Iterator[str]:
    """A fresh temp dir on the board holding `files` (scp), removed afterwards (best effort: the link may
    be gone, and then the board keeps it)."""
    remote_dir = remote_text(address, config, 'mktemp -d "${TMPDIR:-/tmp}/edge-sdk-bench.XXXXXX"',
                             "connecting").strip().splitlines()[-1]
    try:
        _check(scp_command(address, config, files, remote_dir), config.timeout_s, "copying the model and runner", address)
        yield remote_dir
    finally:
        try:
            subprocess.run(ssh_command(address, config, f"rm -rf {shlex.quote(remote_dir)}"), capture_output=True,
                           timeout=config.connect_timeout_s + 20, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass


@register_runner("ssh")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    if artifact.format == "onnx":  # TensorRT on the board's GPU: trtexec or the TensorRT Python API
        from edge_sdk.devices.tensorrt import run_ssh

        return run_ssh(artifact, address, config)
    files = [str(artifact.path), str(PYTHON_RUNNER), *([str(config.inputs)] if config.inputs else [])]
    with remote_workdir(address, config, files) as remote_dir:
        args = runner_args(artifact, config, artifact.path.name)
        remote = (
            f"cd {shlex.quote(remote_dir)} && {shlex.quote(config.remote_python)} -u bench_runner.py "
            + " ".join(shlex.quote(a) for a in args)
        )
        collector = RunCollector(str(address), "ssh", artifact.path.name, config)
        return run_and_collect(ssh_command(address, config, remote), collector, config, str(address))
