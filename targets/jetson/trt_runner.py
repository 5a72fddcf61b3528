#!/usr/bin/env python3
"""edge-sdk TensorRT runner for a board without trtexec: builds the engine from the `.onnx` with TensorRT's
Python API (8.5 or newer) and times it, printing the JSON lines of bench_runner.py (beside this file,
whose input conversion and output it reuses):

    python3 trt_runner.py model.onnx --runs 50 --warmup 5 [--fp16 | --int8] [--inputs sample.npz]

Needs `tensorrt` (JetPack: python3-libnvinfer) and a CUDA binding: cuda-python (`pip install cuda-python`)
or pycuda. The engine is built here, on this board's GPU, with the flags given (trtexec's names: --fp16,
--int8; an int8 Q/DQ model needs no calibration), saved to --save-engine with the timing cache in
--timing-cache; it is valid only for this GPU and this TensorRT version. A dynamic dimension is built and
run as 1 (as trtexec does). Each timed run copies the inputs to the GPU, executes, copies the outputs
back and synchronizes (trtexec's "Latency").

    {"event": "start", "runtime": "tensorrt", "tensorrt_version": "10.3.0", "engine_build_s": 41.2, ...}
    {"event": "run", "i": 0, "us": 812.4}
    {"event": "done", "runs": 50, "peak_rss_bytes": ..., "engine_bytes": ...}
    {"event": "error", "message": "..."}          then exit status 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_runner as common  # the harness's own runner, copied beside this file

ENGINE_FLAGS = ("fp16", "int8")


def parse_args(argv=None) -> argparse.Namespace:
    d = common.defaults()
    p = argparse.ArgumentParser(description="Build a TensorRT engine from an .onnx and time it; prints JSON lines.")
    p.add_argument("model", nargs="?", default=d.get("model"), help="ONNX model (default: config.json 'model')")
    p.add_argument("--runs", type=int, default=d.get("runs", 50))
    p.add_argument("--warmup", type=int, default=d.get("warmup", 5))
    for flag in ENGINE_FLAGS:
        p.add_argument(f"--{flag}", action="store_true", help=f"build with the {flag.upper()} builder flag (trtexec --{flag})")
    p.add_argument("--save-engine", default="model.engine", help="where the built engine is written")
    p.add_argument("--timing-cache", default="timing.cache", help="TensorRT timing cache file (read and updated)")
    p.add_argument("--inputs", default=None, help="input_0, input_1, ... arrays (.npz) instead of random data")
    p.add_argument("--seed", type=int, default=0)
    return common.parse_checked(p, argv)


def import_tensorrt():
    try:
        import tensorrt
    except ImportError as exc:
        raise RuntimeError(f"tensorrt is not importable ({exc}); install TensorRT's Python bindings (JetPack: "
                           "apt-get install python3-libnvinfer) or put trtexec on PATH (/usr/src/tensorrt/bin)") from None
    return tensorrt


class Cuda:
    """The few CUDA runtime calls a run needs, through cuda-python, else pycuda."""

    def __init__(self) -> None:
        try:
            try:
                from cuda.bindings import runtime as rt  # cuda-python 12.6+
            except ImportError:
                from cuda import cudart as rt
        except ImportError:
            rt = None
        self.rt, self.kept = rt, []
        if rt is not None:
            self.binding, self.stream = "cuda-python", self._ok(rt.cudaStreamCreate())
            return
        try:
            import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
            import pycuda.driver as drv
        except ImportError:
            raise RuntimeError("no CUDA Python binding is importable: pip install cuda-python (or pycuda)") from None
        self.binding, self.drv, self.stream = "pycuda", drv, drv.Stream()

    def _ok(self, result):
        err, *value = result
        if int(err) != 0:
            raise RuntimeError(f"CUDA error {int(err)}: {self.rt.cudaGetErrorString(err)[1].decode()}")
        return value[0] if value else None

    def alloc(self, nbytes: int) -> int:
        if self.rt is not None:
            return int(self._ok(self.rt.cudaMalloc(max(nbytes, 1))))
        self.kept.append(self.drv.mem_alloc(max(nbytes, 1)))
        return int(self.kept[-1])

    def to_device(self, ptr: int, array) -> None:
        if self.rt is not None:
            kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
            self._ok(self.rt.cudaMemcpy(ptr, array.ctypes.data, array.nbytes, kind))
        else:
            self.drv.memcpy_htod(ptr, array)

    def to_host(self, array, ptr: int) -> None:
        if self.rt is not None:
            kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
            self._ok(self.rt.cudaMemcpy(array.ctypes.data, ptr, array.nbytes, kind))
        else:
            self.drv.memcpy_dtoh(array, ptr)

    @property
    def handle(self) -> int:
        return int(self.stream) if self.rt is not None else self.stream.handle

    def sync(self) -> None:
        if self.rt is not None:
            self._ok(self.rt.cudaStreamSynchronize(self.stream))
        else:
            self.stream.synchronize()


def build(trt, model: Path, flags: list[str], cache_path: Path):
    """The serialized engine, built on this GPU; the timing cache is read from and written to cache_path."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    major = int(trt.__version__.split(".")[0])
    network = builder.create_network(1 << int(explicit) if explicit is not None and major < 10 else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(model)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"TensorRT's ONNX parser failed: {' | '.join(errors) or 'no reason given'}")
    config = builder.create_builder_config()
    for flag in flags:
        name = {"fp16": "FP16", "int8": "INT8"}[flag]
        if not hasattr(trt.BuilderFlag, name):
            raise RuntimeError(f"TensorRT {trt.__version__} has no {name} builder flag (strongly typed networks only)")
        config.set_flag(getattr(trt.BuilderFlag, name))
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    if any(d < 0 for t in inputs for d in t.shape):
        profile = builder.create_optimization_profile()
        for t in inputs:
            fixed = tuple(d if d >= 0 else 1 for d in t.shape)
            profile.set_shape(t.name, fixed, fixed, fixed)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT could not build the engine (its log above says why)")
    cache_path.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return serialized


class Engine:
    """The deserialized engine with its I/O in GPU memory and a context bound to it."""

    def __init__(self, trt, serialized, cuda: Cuda, rng, inputs=None) -> None:
        import numpy as np

        self.cuda = cuda
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(serialized)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.inputs, self.outputs = [], []
        for i, name in enumerate(n for n in names if is_input[n]):
            shape = tuple(d if d >= 0 else 1 for d in self.engine.get_tensor_shape(name))
            self.context.set_input_shape(name, shape)
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            value = np.ascontiguousarray(common.input_values(inputs, rng, i, shape, dtype))
            self.inputs.append((self._bind(name, value.nbytes), value))
        for name in (n for n in names if not is_input[n]):
            shape = tuple(self.context.get_tensor_shape(name))
            array = np.empty(shape, np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))))
            self.outputs.append((self._bind(name, array.nbytes), array))

    def _bind(self, name: str, nbytes: int) -> int:
        ptr = self.cuda.alloc(nbytes)
        self.context.set_tensor_address(name, ptr)
        return ptr

    def invoke(self) -> None:
        for ptr, value in self.inputs:
            self.cuda.to_device(ptr, value)
        if not self.context.execute_async_v3(self.cuda.handle):
            raise RuntimeError("TensorRT's execute_async_v3 failed")
        self.cuda.sync()
        for ptr, array in self.outputs:
            self.cuda.to_host(array, ptr)


def main(argv=None) -> int:
    args = parse_args(argv)
    model = Path(args.model)
    if not model.is_absolute() and not model.exists():
        model = Path(__file__).resolve().parent / model
    flags = [f for f in ENGINE_FLAGS if getattr(args, f)]
    try:
        trt = import_tensorrt()
        if not model.exists():
            raise FileNotFoundError(f"model file {model} does not exist")
        import numpy as np

        cuda = Cuda()
        rss_start = common.peak_rss_bytes()
        t0 = time.perf_counter()
        serialized = build(trt, model, flags, Path(args.timing_cache))
        build_s = time.perf_counter() - t0
        Path(args.save_engine).write_bytes(memoryview(serialized))
        inputs = None
        if args.inputs:
            with np.load(args.inputs, allow_pickle=False) as npz:
                inputs = {name: npz[name] for name in npz.files}
        engine = Engine(trt, serialized, cuda, np.random.default_rng(args.seed), inputs)
        common.emit("start", protocol=common.PROTOCOL_VERSION, kind="onnx", runtime="tensorrt",
                    tensorrt_version=trt.__version__, cuda_binding=cuda.binding, model=model.name,
                    model_bytes=model.stat().st_size, engine_flags=[f"--{f}" for f in flags],
                    engine_build_s=round(build_s, 3), runs=args.runs, warmup=args.warmup,
                    inputs=Path(args.inputs).name if args.inputs else "random")
        for _ in range(args.warmup):
            engine.invoke()
        for i in range(args.runs):
            start = time.perf_counter_ns()
            engine.invoke()
            common.emit("run", i=i, us=round((time.perf_counter_ns() - start) / 1e3, 3))
        common.emit("done", runs=args.runs, peak_rss_bytes=common.peak_rss_bytes(), rss_before_load_bytes=rss_start,
                    arena_bytes=None, engine_bytes=serialized.nbytes)
    except Exception as exc:  # the host turns this into a one-line DeviceError naming the board
        common.emit("error", message=str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
