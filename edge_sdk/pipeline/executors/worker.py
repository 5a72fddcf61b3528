"""A local worker process: `python -m edge_sdk.pipeline.executors.worker FD WARMUP`.

Started as a plain interpreter (not multiprocessing's spawn), so it never re-imports the caller's main
script: a user's script calling `edge_sdk.build(...)` needs no `if __name__ == "__main__":` guard. It
talks to the parent over the socket FD (pickled messages: a Task in; ("start"|"say"|"done", ...) out).
"""

from __future__ import annotations

import faulthandler
import gc
import signal
import sys
from multiprocessing.connection import Connection


def main(fd: int, warmup: str | None) -> None:
    """A worker's life: import the framework, then run each task it is sent until told to stop."""
    from edge_sdk.pipeline.evaluate import run_task
    from edge_sdk.pipeline.executors.output import redirected_to
    from edge_sdk.plugins import load_plugins

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    faulthandler.enable()  # a native crash leaves the Python stack in the task's log (its log_tail)
    _one_thread_per_task()
    conn = Connection(fd)
    load_plugins()
    _warm_up(warmup)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(("start", None))
        with redirected_to(task.log_path):
            result = run_task(task, lambda message: conn.send(("say", message)))
        conn.send(("done", result))


def _die_with_parent() -> None:
    """On Linux, the kernel kills this worker when the build process dies, even by kill -9 (a worker
    busy in a converter would otherwise keep running, orphaned, until its task ends)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the call above: nobody is left to report to
        os._exit(1)


def _one_thread_per_task() -> None:
    """Before any framework loads: one compute thread. The default pools have one thread per core, and
    a trained step's bytes then depend on the machine (measured: prune, cluster, low-rank and distill
    rungs of the example differ between a 1-core and a 2-core run), so a Ray node or a CI runner would
    not reproduce a laptop's artifacts. Parallelism comes from tasks side by side (--jobs, Ray); on
    small models one thread is also faster than two contending ones. A user's own setting wins."""
    import os

    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _warm_up(framework: str | None) -> None:
    """Import the heavy framework while the parent is still loading and analysing the model."""
    from edge_sdk import deps

    if framework == "keras":
        deps.tf_keras()
    elif framework == "torch":
        deps.torch()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None)
    gc.freeze()  # exit without collecting the framework's object graph (~1 s with TensorFlow loaded)
