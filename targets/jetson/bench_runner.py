#!/usr/bin/env python3
"""edge-sdk benchmark runner for Linux boards (Jetson, Raspberry Pi, the host itself).

One self-contained file (stdlib + numpy + the runtime already installed on the board), so it can be
copied next to the model and run with the board's own Python:

    python3 bench_runner.py model.tflite --runs 50 --warmup 5 --threads 4
    python3 bench_runner.py model.tflite --kind tflm          # TFLite Micro interpreter (pip tflite-micro)
    python3 bench_runner.py model.pte                         # ExecuTorch runtime (pip executorch)

Runtimes: LiteRT (`ai_edge_litert`, falling back to `tflite_runtime`) for .tflite, `tflite_micro` for
TFLM, `executorch.runtime` for .pte. Inputs are seeded random data of each input's shape and dtype, or
with `--inputs FILE.npz` real ones: arrays `input_0`, `input_1`, ... in the model's input order, one
sample each (edge-sdk bench writes that file from your eval data), quantized with the input's scale
and zero point where the model takes integers and the data is float (int64 token ids pass as they are).

Output: one JSON object per line on stdout, flushed as it happens, so a reader keeps every finished run
if the connection drops (the protocol every edge-sdk harness speaks, also over UART):

    {"event": "start", "kind": "tflite", "runtime": "litert", "runs": 50, "warmup": 5, "threads": 4}
    {"event": "run", "i": 0, "us": 812.4}            one line per timed run (warm-up runs are not printed)
    {"event": "done", "runs": 50, "peak_rss_bytes": 61234176, "arena_bytes": null, ...}
        with --op-profile-runs N on a .pte, "ops": [{"name": "Convolution (NHWC, F32) IGEMM #1",
        "ms": 0.007, "stat": "p50", "runs": N}, ...]: per-operator times from ExecuTorch's event tracer (ETDump)
    {"event": "error", "message": "..."}             then exit status 1

Defaults come from `config.json` beside this file when the harness was emitted by `edge-sdk build`
(the profile's threads and the artifact name); command-line flags override them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

PROTOCOL_VERSION = 1
KINDS = ("tflite", "tflm", "pte")
# ExecuTorch tensor dtypes: c10 ScalarType code (TensorInfo.dtype()) -> name
# ExecuTorch trace events that are the runtime's own, not an operator
ET_BOOKKEEPING = ("Method::init", "Program::load_method", "Method::execute", "DELEGATE_CALL", "OPERATOR_CALL")
ET_DTYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32",
             7: "float64", 11: "bool", 15: "bfloat16"}


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process.

    Linux: VmHWM of /proc/self/status (ru_maxrss would carry over the peak of a big parent across
    fork+exec). Elsewhere ru_maxrss (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def infer_kind(model: Path) -> str:
    if model.suffix == ".pte":
        return "pte"
    if model.suffix == ".tflite":
        return "tflm" if (model.parent / "model_data.cc").exists() else "tflite"
    raise SystemExit(f"bench_runner: cannot tell the runtime of {model.name}; pass --kind {'|'.join(KINDS)}")


def given_input(values, shape, dtype, quantization, index):
    """A real input sample in the model input's shape and dtype."""
    import numpy as np

    dtype, shape = np.dtype(dtype), tuple(int(s) for s in shape)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"--inputs: input_{index} has {values.size} values; the model's input {index} takes "
                         f"{int(np.prod(shape))} ({'x'.join(map(str, shape))})")
    scale, zero_point = quantization
    if dtype.kind in "iu" and values.dtype.kind == "f" and scale:
        info = np.iinfo(dtype)
        values = np.clip(np.round(values / scale) + zero_point, info.min, info.max)
    return values.astype(dtype).reshape(shape)


def input_values(inputs, rng, index, shape, dtype, quantization=(0.0, 0)):
    """The model's input `index`: from the --inputs file when given, else seeded random data."""
    if inputs is None:
        return random_input(rng, shape, dtype)
    if f"input_{index}" not in inputs:
        raise ValueError(f"--inputs: no array input_{index} for the model's input {index} (has {', '.join(inputs)})")
    return given_input(inputs[f"input_{index}"], shape, dtype, quantization, index)


def random_input(rng, shape, dtype):
    import numpy as np

    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.random(tuple(int(s) for s in shape), dtype=np.float32).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=tuple(int(s) for s in shape)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=tuple(int(s) for s in shape)).astype(dtype)


class LiteRT:
    runtime = "litert"

    def __init__(self, model: Path, threads: int, rng, inputs=None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            from tflite_runtime.interpreter import Interpreter  # older boards
        self.interp = Interpreter(model_path=str(model), num_threads=threads)
        self.interp.allocate_tensors()
        for i, d in enumerate(self.interp.get_input_details()):
            self.interp.set_tensor(d["index"], input_values(inputs, rng, i, d["shape"], d["dtype"], d["quantization"]))

    def prepare(self) -> None:
        """Nothing: LiteRT keeps input tensors for the graph's whole life."""

    def invoke(self) -> None:
        self.interp.invoke()

    def arena_bytes(self):
        return None


class TFLiteMicro:
    """The TFLM interpreter; the arena is what TFLM's recording allocator reports after allocation."""

    runtime = "tflm"
    _TOTAL = re.compile(r"Arena allocation total (\d+) bytes")

    def __init__(self, model: Path, threads: int, rng, inputs=None, arena_size=None) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self.interp = runtime.Interpreter.from_file(str(model), arena_size=arena_size)
        self.values = []
        for i in range(64):  # TFLM's Python API has no input count: index until out of range
            try:
                d = self.interp.get_input_details(i)
            except IndexError:
                break
            q = d.get("quantization_parameters") or {}
            scales, zero_points = q.get("scales"), q.get("zero_points")
            quantization = (float(scales[0]), int(zero_points[0])) if scales is not None and len(scales) else (0.0, 0)
            self.values.append(input_values(inputs, rng, i, d["shape"], d["dtype"], quantization))
        self.prepare()

    def prepare(self) -> None:
        """Set the inputs again: TFLM's memory planner reuses an input tensor's bytes once its last reader
        ran, so the next run would otherwise read whatever the graph left there."""
        for i, value in enumerate(self.values):
            self.interp.set_input(value, i)

    def invoke(self) -> None:
        self.interp.invoke()

    def arena_bytes(self):
        """TFLM prints its allocations to fd 2 from C++: capture that fd around the call."""
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                self.interp.print_allocations()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
        found = self._TOTAL.search(text)
        return int(found.group(1)) if found else None


class ExecuTorch:
    runtime = "executorch"

    def __init__(self, model: Path, threads: int, rng, inputs=None) -> None:
        import torch
        from executorch.runtime import Runtime

        try:  # quantized ops (embedding_byte, ...) of dynamic-int8 programs register on import
            import executorch.kernels.quantized  # noqa: F401
        except ImportError:  # an ExecuTorch build without them: such programs fail to load, others run
            pass

        if threads > 0:
            try:
                from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

                _unsafe_reset_threadpool(threads)
            except ImportError:
                pass
        self.model = model
        program = Runtime.get().load_program(str(model))
        self.method = program.load_method("forward")
        meta = program.metadata("forward")
        torch.manual_seed(int(rng.integers(0, 2**31)))
        self.inputs = [self._tensor(torch, meta.input_tensor_meta(i), inputs, i) for i in range(meta.num_inputs())]

    @staticmethod
    def _tensor(torch, info, inputs, index):
        """info.dtype() is c10's ScalarType code (ET_DTYPES)."""
        name = ET_DTYPES[int(info.dtype())]
        dtype = getattr(torch, name)
        sizes = list(info.sizes())
        if inputs is not None:
            return torch.from_numpy(input_values(inputs, None, index, sizes, name)).to(dtype)
        return torch.rand(sizes).to(dtype) if dtype.is_floating_point else torch.zeros(sizes, dtype=dtype)

    def prepare(self) -> None:
        """Nothing: the runner passes its input tensors to every execute."""

    def invoke(self) -> None:
        self.method.execute(self.inputs)

    def arena_bytes(self):
        return None

    def op_profile(self, runs: int) -> list:
        """Per-operator median times: `runs` executes of a second copy of the program loaded with
        ExecuTorch's event tracer on (the timed runs carry no tracing), read back with
        executorch.devtools' Inspector. A delegate traces its own operators (XNNPACK: each of its
        ops); the runtime's bookkeeping events are left out."""
        from executorch.devtools import Inspector
        from executorch.runtime import Runtime

        program = Runtime.get().load_program(str(self.model), enable_etdump=True)
        method = program.load_method("forward")
        for _ in range(runs):
            method.execute(self.inputs)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "trace.etdp")
            program.write_etdump_result_to_file(path, os.path.join(tmp, "debug.bin"))
            inspector = Inspector(etdump_path=path)
        return [{"name": event.name, "ms": round(float(event.perf_data.p50), 6), "stat": "p50", "runs": len(event.perf_data.raw)}
                for block in inspector.event_blocks if block.name == "Execute"
                for event in block.events if event.perf_data is not None and event.name not in ET_BOOKKEEPING]


def load(kind: str, model: Path, threads: int, seed: int, arena_size=None, inputs_file=None):
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = None
    if inputs_file:
        with np.load(inputs_file, allow_pickle=False) as npz:
            inputs = {name: npz[name] for name in npz.files}
    if kind == "tflite":
        return LiteRT(model, threads, rng, inputs)
    if kind == "tflm":
        return TFLiteMicro(model, threads, rng, inputs, arena_size)
    return ExecuTorch(model, threads, rng, inputs)


def defaults() -> dict:
    config = Path(__file__).resolve().parent / "config.json"
    return json.loads(config.read_text()) if config.is_file() else {}


def parse_args(argv=None) -> argparse.Namespace:
    d = defaults()
    p = argparse.ArgumentParser(description="Benchmark a .tflite / TFLM / .pte model; prints JSON lines.")
    p.add_argument("model", nargs="?", default=d.get("model"), help="model file (default: config.json 'model')")
    p.add_argument("--kind", choices=KINDS, default=d.get("kind"), help="runtime (default: from the file)")
    p.add_argument("--runs", type=int, default=d.get("runs", 50))
    p.add_argument("--warmup", type=int, default=d.get("warmup", 5))
    p.add_argument("--threads", type=int, default=d.get("threads", 1))
    p.add_argument("--arena-bytes", type=int, default=d.get("arena_bytes"), help="TFLM arena size to allocate")
    p.add_argument("--run-delay-s", type=float, default=0.0, help="pause between timed runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inputs", default=None, help="input_0, input_1, ... arrays (.npz) instead of random data")
    p.add_argument("--op-profile-runs", type=int, default=d.get("op_profile_runs", 0),
                   help=".pte: after the timed runs, this many traced runs for per-operator times (0: none)")
    return parse_checked(p, argv)


def parse_checked(p: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """Parse, then check what every runner here needs (trt_runner.py too): a model, runs >= 1, warmup >= 0."""
    args = p.parse_args(argv)
    if not args.model:
        p.error("no model given and no config.json beside this script")
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    model = Path(args.model)
    if not model.is_absolute() and not model.exists():
        model = Path(__file__).resolve().parent / model
    try:
        kind = args.kind or infer_kind(model)
        if not model.exists():
            raise FileNotFoundError(f"model file {model} does not exist")
        rss_start = peak_rss_bytes()
        t0 = time.perf_counter()
        engine = load(kind, model, args.threads, args.seed, args.arena_bytes, args.inputs)
        load_ms = (time.perf_counter() - t0) * 1e3
        emit("start", protocol=PROTOCOL_VERSION, kind=kind, runtime=engine.runtime, model=model.name,
             model_bytes=model.stat().st_size,
             runs=args.runs, warmup=args.warmup, threads=args.threads, load_ms=round(load_ms, 3),
             inputs=Path(args.inputs).name if args.inputs else "random")
        for _ in range(args.warmup):
            engine.prepare()
            engine.invoke()
        for i in range(args.runs):
            engine.prepare()  # outside the timed region
            start = time.perf_counter_ns()
            engine.invoke()
            emit("run", i=i, us=round((time.perf_counter_ns() - start) / 1e3, 3))
            if args.run_delay_s:
                time.sleep(args.run_delay_s)
        peak_rss = peak_rss_bytes()  # before the traced runs, which load a second program
        profile = {}
        if args.op_profile_runs > 0 and hasattr(engine, "op_profile"):
            try:
                profile["ops"] = engine.op_profile(args.op_profile_runs)
            except Exception:  # tracing is extra (a board's ExecuTorch may lack devtools): the runs stand
                profile["ops_error"] = traceback.format_exc(limit=-3)  # where it failed, ours or the runtime's
        emit("done", runs=args.runs, peak_rss_bytes=peak_rss, rss_before_load_bytes=rss_start,
             arena_bytes=engine.arena_bytes(), **profile)
    except Exception as exc:  # the reader turns this into a DeviceError naming the board
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
