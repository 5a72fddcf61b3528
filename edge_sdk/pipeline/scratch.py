"""A build's scratch space, inside OUT: `OUT/.edge-sdk-work-<pid>-<random>/`.

Why not the system temp dir: a killed build (kill -9, an OOM kill, a CI timeout) cannot clean up, and
its converted models, logs and third-party temp files then pile up in /tmp where nobody looks. Inside
OUT they are next to what the user asked for, the next build into OUT removes what a dead build left,
and a finished build removes its own. For the build's duration TMPDIR points there too, so the
candidate workers and the converters they call (TFLite, coremltools, ExecuTorch) write their temp files
inside it as well. OUT is created only for this; if the build fails before writing a target, OUT is
removed again, so a rejected input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from edge_sdk.errors import ConfigError

PREFIX = ".edge-sdk-work-"


@contextlib.contextmanager
def scratch_space(out: Path) -> Iterator[Path]:
    created = _make_out(out)
    _remove_dead_builds(out)
    work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=out))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(work / "tmp")
    (work / "tmp").mkdir()
    try:
        yield work
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(work, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def _make_out(out: Path) -> bool:
    """Create OUT (True if this build created it); a path that cannot be a writable directory is the
    user's --out to fix, said in one line."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a directory; pass a directory path for the build outputs")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=PREFIX + "probe-", dir=out))
        probe.rmdir()
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc}); pass a writable directory") from None
    return created


def _remove_dead_builds(out: Path) -> None:
    """Scratch dirs of builds into OUT whose process is gone (killed before it could clean up)."""
    for stale in out.glob(PREFIX + "*"):
        pid = stale.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
