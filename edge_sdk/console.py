"""Keep the terminal for edge-sdk's own messages during long commands.

TensorFlow, coremltools, torch and LiteRT print warnings, progress bars and native (C++) log lines on
stderr that say nothing the user can act on. While a build runs, file descriptor 2 points at a log file
(`OUT/build.log`), so all of that is kept for debugging but off the screen; edge-sdk's own progress and
its own warnings (e.g. fewer calibration samples than asked) go to the real terminal. If the command
fails with an internal error, the log's path is printed with the traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterator, TextIO

_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_active = 0  # how many terminal_for_edge_sdk contexts are open (the CLI's, or a quiet API build's)


def logging_to_build_log() -> bool:
    """Is third-party output already going to a build log (so a nested build must not redirect again)?"""
    return _active > 0


@contextlib.contextmanager
def terminal_for_edge_sdk(log_path: Path) -> Iterator[Callable[[str], None]]:
    """Redirect fd 2 (and sys.stderr) to a log; yields `say(msg)` that writes to the terminal.

    The log is an unnamed temp file (gone with the process, even a killed one), copied to `log_path`
    only if its directory exists by the end (the build created OUT), so a command that fails on bad
    input or is killed leaves nothing behind.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    terminal: TextIO = os.fdopen(os.dup(saved_fd), "w", buffering=1)
    old_showwarning = warnings.showwarning

    def say(message: str) -> None:
        terminal.write(message + "\n")

    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if str(filename).startswith(_PACKAGE_DIR):
            say(f"warning: {message}")
        else:
            old_showwarning(message, category, filename, lineno, file, line)

    global _active
    os.environ.setdefault("TQDM_DISABLE", "1")  # coremltools' per-pass progress bars
    keep_log = False
    with tempfile.TemporaryFile("w+", buffering=1) as log:
        os.dup2(log.fileno(), 2)
        # Python-level writers too: where sys.stderr is not fd 2 (Jupyter, pytest's capture), warnings
        # and relayed worker logs would otherwise still reach the caller's screen
        old_stderr, sys.stderr = sys.stderr, log
        warnings.showwarning = showwarning
        _active += 1
        try:
            yield say
        except BaseException as exc:
            from edge_sdk.errors import EdgeSDKError

            if not isinstance(exc, (EdgeSDKError, SystemExit, KeyboardInterrupt)) and exc.__class__.__name__ != "Exit":
                keep_log = True
                say(f"internal error; third-party output of this run is in {_place_log(log, log_path, keep=True)}")
            raise
        finally:
            _active -= 1
            sys.stderr.flush()
            sys.stderr = old_stderr
            warnings.showwarning = old_showwarning
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            terminal.close()
            if not keep_log:
                _place_log(log, log_path)


def _place_log(log: TextIO, log_path: Path, keep: bool = False) -> Path:
    """Copy the log into OUT when OUT exists; otherwise, for an internal error (keep=True), into a
    named file in the system temp dir, the one place left to show it; else it goes with the process."""
    log.flush()
    log.seek(0)
    try:
        if log_path.parent.is_dir():
            target = log_path.open("w")
        elif keep:
            target = tempfile.NamedTemporaryFile("w", prefix="edge-sdk-", suffix=".log", delete=False)
        else:
            return log_path
    except OSError:  # OUT is read-only (the build already said so, exit 2): the log has nowhere to go
        return log_path
    with target:
        shutil.copyfileobj(log, target)
    return Path(target.name)
