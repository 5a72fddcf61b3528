"""`edge-sdk bench OUT/<profile>|ARTIFACT --device ADDR`: measure an artifact on a device."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edge_sdk.commands.common import JsonOption, print_json
from edge_sdk.units import human_bytes


def summary(doc: dict) -> str:
    b = doc["bench"]
    lat = b["latency_ms"]
    stats = "  ".join(f"{k} {lat[k]:.3f} ms" for k in ("p50", "p90", "p99", "mean") if k in lat) or "no finished runs"
    line = f"{b['device']:<14} {b['artifact']:<14} {b['runs']} runs  {stats}  peak RSS {human_bytes(b['peak_memory_bytes'])}"
    if b.get("arena_bytes"):
        line += f"  arena {human_bytes(b['arena_bytes'])}"
    if b.get("op_profile"):
        line += f"  {len(b['op_profile'])} operators timed"
    cmp = doc.get("latency_vs_estimate")
    if cmp:
        line += f"  (estimate {cmp['estimated_ms']:.3f} ms on {cmp['unit']}: measured x{cmp['ratio']:.2f})"
    return line


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_command(
        path: Path = typer.Argument(..., help="Build output dir (OUT/<profile>) or an artifact file."),
        device: str = typer.Option(
            "host", "--device", "-d",
            help="host | ssh:USER@HOST[:PORT] | adb[:SERIAL] | serial:/dev/ttyX[@BAUD] | ios[:UDID] | a device name from edge-sdk.yaml",
        ),
        runs: int = typer.Option(50, "--runs", help="Timed runs."),
        warmup: int = typer.Option(5, "--warmup", help="Untimed warm-up runs first."),
        threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: the profile's)."),
        delegate: Optional[str] = typer.Option(None, "--delegate", help="adb: xnnpack | gpu | nnapi | cpu (default: the profile's unit)."),
        timeout: float = typer.Option(300.0, "--timeout", help="Seconds the whole benchmark may take."),
        idle_timeout: float = typer.Option(60.0, "--idle-timeout", help="Seconds the device may stay silent."),
        binary: Optional[Path] = typer.Option(None, "--binary", help="adb: benchmark_model / executor_runner to push (else env BENCHMARK_MODEL / EXECUTOR_RUNNER)."),
        remote_python: str = typer.Option("python3", "--remote-python", help="ssh: the board's Python."),
        identity: Optional[Path] = typer.Option(None, "--identity", "-i", help="ssh: private key file."),
        ssh_option: List[str] = typer.Option([], "--ssh-option", "-o", metavar="KEY=VALUE", help="ssh: extra OpenSSH option KEY=VALUE; repeatable."),
        config_file: Optional[Path] = typer.Option(None, "--config", help="edge-sdk.yaml naming devices (default: ./edge-sdk.yaml)."),
        inputs: Optional[Path] = typer.Option(
            None, "--inputs", help=".npz of real inputs, its first sample fed on any device (default: the build's eval data)."),
        op_profile_runs: int = typer.Option(
            10, "--op-profile-runs", help="Runs after the timed ones with operator profiling, for per-operator times (host/ssh .pte: ExecuTorch ETDump; adb .tflite: benchmark_model; 0: none)."),
        json_out: bool = JsonOption,
    ) -> None:
        """Run a built artifact on the host or a device and record measured latency next to the estimate."""
        from edge_sdk.api import bench

        outcome = bench(
            path, device, config_file=config_file, runs=runs, warmup=warmup, threads=threads, delegate=delegate,
            timeout_s=timeout, idle_timeout_s=idle_timeout, binary=binary, remote_python=remote_python,
            identity=identity, ssh_options=tuple(ssh_option), inputs=inputs, op_profile_runs=op_profile_runs,
        )
        doc = outcome.document
        if json_out:
            print_json(doc)
        else:
            typer.echo(f"{summary(doc)}  -> {outcome.path}")
