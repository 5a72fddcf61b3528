"""ssh runner against a REAL OpenSSH server started by the test on 127.0.0.1 (random free port,
throwaway host and user keys in tmp, `sshd -D -e -f config`, StrictModes no). The "remote board" is
this machine: the runner copies the artifact and bench_runner.py over scp and runs them with the venv's
Python through sshd, exactly as on a Jetson."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_sdk.devices import BenchConfig, BenchInterrupted, bench, parse_address
from edge_sdk.devices.host import run as host_run
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.devices.ssh import run as ssh_run
from edge_sdk.errors import DeviceError

from .conftest import copy_out

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
pytestmark = [
    pytest.mark.needs_tool,
    pytest.mark.skipif(SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
                       reason="needs OpenSSH sshd, ssh and ssh-keygen (scripts/ci_system_deps.sh installs them)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Processes started (transitively) by `pid`, from /proc: the sshd sessions of our own sshd."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Sshd:
    def __init__(self, tmp: Path, path_prefix: Path | None = None) -> None:
        """`path_prefix`: a dir put first on the sessions' PATH (stand-in tools on the "board")."""
        self.tmp = tmp
        path = f" PATH={path_prefix}:/usr/local/bin:/usr/bin:/bin" if path_prefix else ""
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "host_key")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "user_key")], check=True)
        shutil.copy(tmp / "user_key.pub", tmp / "authorized_keys")
        self.port = _free_port()
        (tmp / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'host_key'}\nPidFile {tmp / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nStrictModes no\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin yes\n"
            f"Subsystem sftp internal-sftp\nSetEnv TMPDIR={tmp / 'remote_tmp'}{path}\n"  # the board's temp dirs stay in tmp
        )
        (tmp / "remote_tmp").mkdir()
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation dir when started as root
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(tmp / "sshd.log", "w"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"sshd did not start: {(tmp / 'sshd.log').read_text()[-500:]}")

    @property
    def address(self) -> str:
        import getpass

        return f"ssh:{getpass.getuser()}@127.0.0.1:{self.port}"

    def config(self, **kw) -> BenchConfig:
        return BenchConfig(
            identity=self.tmp / "user_key", remote_python=sys.executable,
            ssh_options=("StrictHostKeyChecking=no", f"UserKnownHostsFile={self.tmp / 'known_hosts'}", "IdentitiesOnly=yes"),
            **kw,
        )

    def kill(self) -> None:
        """Stop the server and every session it forked (by pid: only processes this test started)."""
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


@pytest.fixture
def sshd(tmp_path):
    server = Sshd(tmp_path)
    yield server
    if server.proc.poll() is None:
        server.kill()


@pytest.mark.slow
def test_ssh_result_matches_host_within_noise(sshd, tflite_artifact):
    config = sshd.config(runs=200, warmup=10, timeout_s=120)
    remote = ssh_run(tflite_artifact, parse_address(sshd.address), config)
    local = host_run(tflite_artifact, parse_address("host"), config)
    assert remote.complete and remote.runs == 200 and remote.runner == "ssh"
    assert remote.raw["start"]["runtime"] == local.raw["start"]["runtime"] == "litert"
    # same artifact, same runtime, same machine: medians agree within noise on a shared 2-core box
    assert 1 / 3 < remote.latency_ms["p50"] / local.latency_ms["p50"] < 3
    assert 0.5 < remote.peak_memory_bytes / local.peak_memory_bytes < 2
    assert not list((sshd.tmp / "remote_tmp").iterdir())  # the runner removed its temp dir on the board


def test_killing_sshd_mid_run_is_a_clear_error_with_partial_results(sshd, tflite_artifact, tmp_path, monkeypatch):
    out = copy_out(tflite_artifact, tmp_path / "board")
    seen = threading.Event()
    feed = RunCollector.feed

    def watching_feed(self, line):  # observe progress only: kill the server once 3 runs came back
        done = feed(self, line)
        if len(self.samples_ms) >= 3:
            seen.set()
        return done

    monkeypatch.setattr(RunCollector, "feed", watching_feed)
    killer = threading.Thread(target=lambda: seen.wait(120) and sshd.kill(), daemon=True)
    killer.start()
    config = sshd.config(runs=100000, warmup=0, run_delay_s=0.05, timeout_s=150, idle_timeout_s=20)
    start = time.monotonic()
    with pytest.raises(BenchInterrupted) as info:
        bench(out, sshd.address, config)
    elapsed = time.monotonic() - start
    assert seen.is_set(), "no run came back before the timeout"
    assert "connection closed" in str(info.value) or "sent nothing" in str(info.value)
    assert "bench.json" in str(info.value)
    partial = info.value.partial
    assert not partial.complete and partial.runs >= 3 and partial.latency_ms["p50"] > 0
    saved = __import__("json").loads((out / "bench.json").read_text())["bench"]
    assert saved["complete"] is False and saved["runs"] == partial.runs
    assert elapsed < 150
    assert list((tmp_path / "remote_tmp").iterdir())  # the board's copy stayed there: the link was gone


def test_unreachable_host_fails_fast_with_a_clear_error(tflite_artifact, tmp_path):
    config = BenchConfig(connect_timeout_s=3, ssh_options=(f"UserKnownHostsFile={tmp_path / 'kh'}",))
    start = time.monotonic()
    with pytest.raises(DeviceError, match="connecting failed"):
        ssh_run(tflite_artifact, parse_address(f"ssh:nobody@127.0.0.1:{_free_port()}"), config)
    assert time.monotonic() - start < 30
