"""A build keeps its scratch files inside OUT: a bad --out is one line and exit 2, a failed or killed
build leaves nothing in the system temp dir, and the next build removes what a killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_sdk.cli import main
from edge_sdk.pipeline.scratch import PREFIX, scratch_space

from ..conftest import DIGITS_CALIBRATION, DIGITS_MODEL


def _build_argv(out: Path, calibration: Path = DIGITS_CALIBRATION) -> list[str]:
    return ["build", "--model", str(DIGITS_MODEL), "--calibration", str(calibration), "--target", "android", "--out", str(out)]


@pytest.mark.parametrize("make_out, said", [
    (lambda tmp: (tmp / "a_file").write_text("x") and tmp / "a_file", "is a file, not a directory"),
    (lambda tmp: (tmp / "a_file").write_text("x") and tmp / "a_file" / "sub", "cannot write there"),
    (lambda tmp: Path("/proc/edge-sdk-out"), "cannot write there"),
])
def test_an_unusable_out_is_one_line_and_exit_2(tmp_path, capsys, make_out, said):
    out = make_out(tmp_path)
    assert main(_build_argv(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --out {out}") and said in err and "\n" not in err


def test_scratch_space_is_inside_out_holds_tmpdir_and_is_removed(tmp_path):
    out = tmp_path / "out"
    dead = out / f"{PREFIX}999999999-left"  # a killed build's: no such pid
    dead.mkdir(parents=True)
    (dead / "model.tflite").write_bytes(b"x")
    with scratch_space(out) as work:
        assert work.parent == out and work.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert os.environ["TMPDIR"] == str(work / "tmp") and not dead.exists()
        import tempfile

        assert Path(tempfile.mkdtemp()).parent == work / "tmp"
    assert not work.exists() and os.environ.get("TMPDIR") != str(work / "tmp")


def test_a_build_that_fails_on_input_leaves_no_out(tmp_path, capsys):
    bad = tmp_path / "cal.npz"
    bad.write_bytes(b"not an npz")
    assert main(_build_argv(tmp_path / "out", bad)) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_killed_build_leaves_nothing_in_the_system_temp_dir(tmp_path):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(system_tmp), "PYTHONHASHSEED": "0"}
    out = tmp_path / "out"
    # --no-cache: a build restored from a warm build cache (the suite's earlier builds) can finish
    # between two polls, leaving nothing to kill
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli", *_build_argv(out), "--no-cache"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not list(out.glob(f"{PREFIX}*/tmp/*")) and not list(out.glob(f"{PREFIX}*/*/attempts")) and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "the build ended before it could be killed mid-way"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its candidate workers, as a CI timeout would
    proc.wait()
    assert list(system_tmp.iterdir()) == []
    assert list(out.glob(f"{PREFIX}*")), "the killed build's scratch dir stays inside OUT"
    # the next build into OUT removes it
    assert main(_build_argv(out)) == 0
    assert not list(out.glob(f"{PREFIX}*"))


@pytest.mark.slow
def test_workers_die_with_a_killed_build(tmp_path):
    """A candidate worker busy in a converter does not outlive a build killed with SIGKILL."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli", *_build_argv(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    workers: list[int] = []
    while not workers and time.time() < deadline:
        time.sleep(0.5)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
    assert workers, "the build started no worker"
    time.sleep(3)
    proc.kill()
    proc.wait()
    time.sleep(2)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]
    assert alive == []
