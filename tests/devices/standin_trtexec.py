#!/usr/bin/env python3
"""STAND-IN for NVIDIA's trtexec (tests only; there is no GPU here), copied as `trtexec` into a dir the
tests put first on PATH (of the real sshd's sessions, or of the host runner).

It behaves like trtexec of TensorRT 8.5-11 where these tests look (read from NVIDIA/TensorRT's
samples/trtexec/trtexec.cpp and samples/common/sampleOptions.cpp, sampleReporting.cpp, sampleUtils.cpp,
sampleEngines.cpp and logging.h):
- options are `--key=value`; an unknown one prints the help, then "[E] Unknown option: KEY VALUE" and
  fails; TensorRT 11's trtexec has no --fp16 / --int8 (strongly typed networks only);
- info lines go to stdout, [W]/[E] lines to stderr, each "[MM/DD/YYYY-HH:MM:SS] [I] ..."; the run is
  framed by "&&&& RUNNING|PASSED|FAILED TensorRT.trtexec [TensorRT vNNNNNN] # trtexec ARGS";
- the ONNX file is read with the onnx package; a node outside the ONNX domain has no importer, and the
  parser fails on it the way TensorRT 10's does ("While parsing node number N [Op -> "out"]:", the node,
  "ERROR: onnxOpCheckers.cpp:... In function checkFallbackPluginImporter:", "[6] creator && ..."), then
  trtexec's own "Failed to parse onnx file" ... "Engine set up failed";
- a dynamic dimension is overridden to 1; --loadInputs files must have the input binding's size
  (loadFromFile's "Unexpected file size for input file" otherwise), and the bytes read are logged;
- it writes the --saveEngine and --timingCacheFile files, runs exactly --iterations queries only with
  --duration=0 (else at least --duration seconds' worth), and prints the report of printProlog /
  printTiming (with its 200-line omission) / printEpilog, percentiles and median computed like
  findPercentile / findMedian, numbers as C++ streams print them (6 significant digits).
The timings are made up but deterministic; what was printed goes to stats.json beside this file, and every
call to calls.jsonl. standin.json beside it sets {"version": "10.3.0", "gpu": "Orin"}.
"""

import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONF_FILE = os.path.join(HERE, "standin.json")
CONF = json.loads(open(CONF_FILE).read()) if os.path.exists(CONF_FILE) else {}
VERSION = CONF.get("version", "10.3.0")
MAJOR, MINOR, PATCH = (int(x) for x in VERSION.split("."))
CODE = MAJOR * 10000 + MINOR * 100 + PATCH if MAJOR >= 10 else MAJOR * 1000 + MINOR * 100 + PATCH
ARGS = sys.argv[1:]
ATOM = f"TensorRT.trtexec [TensorRT v{CODE}] # trtexec {' '.join(ARGS)}"


def log(name, record):
    with open(os.path.join(HERE, name), "a") as f:
        f.write(json.dumps(record) + "\n")


def out(sev, msg=""):
    stamp = time.strftime("[%m/%d/%Y-%H:%M:%S]")
    print(f"{stamp} [{sev}] {msg}", file=sys.stdout if sev == "I" else sys.stderr, flush=True)


def finish(ok):
    print(f"&&&& {'PASSED' if ok else 'FAILED'} {ATOM}", flush=True)
    sys.exit(0 if ok else 1)


def fail_setup(*errors):
    for e in errors:
        out("E", e)
    for e in ("Parsing model failed", "Failed to create engine from model or file.", "Engine set up failed"):
        out("E", e)
    finish(False)


log("calls.jsonl", {"argv": ARGS, "cwd": os.getcwd()})
print(f"&&&& RUNNING {ATOM}", flush=True)
KNOWN = {"--onnx", "--saveEngine", "--loadEngine", "--timingCacheFile", "--iterations", "--duration", "--warmUp",
         "--avgRuns", "--percentile", "--loadInputs", "--skipInference", "--verbose", "--stronglyTyped"}
if MAJOR < 11:
    KNOWN |= {"--fp16", "--int8", "--best"}
opts = dict(a.partition("=")[::2] for a in ARGS)
unknown = sorted(k for k in opts if k not in KNOWN)  # Arguments is a std::multimap: sorted by key
if unknown:
    print("=== Model Options ===\n  --onnx=<file>               ONNX model\n  (help abridged by the stand-in)")
    for key in unknown:
        out("E", f"Unknown option: {key} {opts[key]}")
    finish(False)

iterations, duration = int(opts.get("--iterations", 10)), float(opts.get("--duration", 3))
warm_ms, avgs = float(opts.get("--warmUp", 200)), int(opts.get("--avgRuns", 10))
percentiles = [float(p) for p in opts.get("--percentile", "90,95,99").split(",")]
precision = "Strongly Typed" if MAJOR >= 11 else "FP32" + "+FP16" * ("--fp16" in opts) + "+INT8" * ("--int8" in opts)
for line in ("=== Model Options ===", "Format: ONNX", f"Model: {opts.get('--onnx', '')}", "=== Build Options ===",
             f"Precision: {precision}", f"Save engine: {opts.get('--saveEngine', '')}",
             f"timingCacheFile: {opts.get('--timingCacheFile', '')}", "=== Inference Options ===",
             f"Iterations: {iterations}", f"Duration: {duration:g}s (+ {warm_ms:g}ms warm up)",
             "=== Reporting Options ===", f"Averages: {avgs} inferences",
             f"Percentiles: {','.join(f'{p:g}' for p in percentiles)}", "=== Device Information ===",
             f"Selected Device: {CONF.get('gpu', 'Orin')}", "Compute Capability: 8.7", "",
             f"TensorRT version: {MAJOR}.{MINOR}.{PATCH}", "Loading standard plugins", "Start parsing network model."):
    out("I", line)

import onnx  # after the option checks, like the real tool's order

path = opts.get("--onnx", "")
if not os.path.isfile(path):
    fail_setup(f"Could not open file {path}", "Failed to parse onnx file")
model = onnx.load(path)
out("I", "[TRT] ----------------------------------------------------------------")
out("I", f"[TRT] Input filename:   {path}")
out("I", f"[TRT] Opset version:    {model.opset_import[0].version}")
out("I", f"[TRT] Producer name:    {model.producer_name}")
for number, node in enumerate(model.graph.node):
    if node.domain not in ("", "ai.onnx"):
        out("I", f"[TRT] No importer registered for op: {node.op_type}. Attempting to import as plugin.")
        out("E", f'[TRT] ModelImporter.cpp:963: While parsing node number {number} [{node.op_type} -> "{node.output[0]}"]:')
        out("E", "[TRT] ModelImporter.cpp:964: --- Begin node ---")
        print(str(node), file=sys.stderr, flush=True)
        out("E", "[TRT] ModelImporter.cpp:965: --- End node ---")
        out("E", "[TRT] ModelImporter.cpp:968: ERROR: onnxOpCheckers.cpp:819 In function checkFallbackPluginImporter:")
        print('[6] creator && "Plugin not found, are the plugin name, version, and namespace correct?"', file=sys.stderr, flush=True)
        out("E", "Failed to parse onnx file")
        out("I", "Finished parsing network model. Parse time: 0.00231")
        fail_setup()
out("I", f"Finished parsing network model. Parse time: {0.001 * len(model.graph.node):g}")

weights = {t.name for t in model.graph.initializer}
inputs = []
for value in (v for v in model.graph.input if v.name not in weights):
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
    shape = [d if d >= 0 else 1 for d in dims]
    if -1 in dims:
        out("W", f"Dynamic dimensions required for input: {value.name}, but no shapes were provided. "
                 f"Automatically overriding shape to: {'x'.join(map(str, shape))}")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    inputs.append((value.name, shape, dtype))

nodes = len(model.graph.node)
build_s = round(0.4 + 0.05 * nodes + 0.3 * ("--fp16" in opts) + 0.6 * ("--int8" in opts), 4)
out("I", f"[TRT] Engine generation completed in {build_s - 0.05:g} seconds.")
engine = b"stand-in engine for " + model.SerializeToString()[:64]
if MAJOR >= 10:  # 8.x prints only the builder's line above
    out("I", f"Engine built in {build_s:g} sec.")
    out("I", f"Created engine with size: {len(engine) / 2 ** 20:g} MiB")
for key, content in (("--saveEngine", engine), ("--timingCacheFile", b"stand-in timing cache")):
    if opts.get(key):
        with open(opts[key], "wb") as f:
            f.write(content)
out("I", f"Engine deserialized in {0.0031:g} sec.")

loads = dict(kv.rsplit(":", 1) for kv in opts["--loadInputs"].split(",")) if opts.get("--loadInputs") else {}
for name, shape, dtype in inputs:
    size = math.prod(shape) * dtype.itemsize
    if name in loads:
        file = loads[name]
        found = os.path.getsize(file) if os.path.isfile(file) else -1
        if found not in (size, 2 * size):
            out("E", f"Unexpected file size for input file: {file}. Note: Input binding size is: {size} bytes but the "
                     f"file size is {found} bytes. Double check the size and datatype of the provided data.")
            out("E", "Inference set up failed")
            finish(False)
        with open(file, "rb") as f:
            log("reads.jsonl", {"name": name, "file": file, "hex": f.read(size).hex()})
        out("I", f"Using values loaded from {file} for input {name}")
    else:
        out("I", f"Using random values for input {name}")
    out("I", f"Input binding for {name} with dimensions {'x'.join(map(str, shape))} and type fp32 is created.")

# made-up timings: a GPU time per query that shrinks with fp16/int8, fixed transfer and enqueue times
scale = 0.55 if "--int8" in opts else 0.7 if "--fp16" in opts else 1.0
per_query = (0.04 + 0.003 * nodes) * scale + 0.009
runs = iterations if duration == 0 else max(iterations, int(duration * 1000 / per_query))
warmups = int(warm_ms / per_query)
gpu = [round((0.04 + 0.003 * nodes) * scale * (1 + ((i * 7) % 10) / 20), 6) for i in range(runs)]
h2d, d2h, enq = [0.004] * runs, [0.005] * runs, [0.02 + 0.001 * (i % 3) for i in range(runs)]
host = [g + 0.009 for g in gpu]
wall_s = sum(host) / 1000
out("I", "Starting inference")
out("I", f"Warmup completed {warmups} queries over {warm_ms:g} ms")
out("I", f"Timing trace has {runs} queries over {wall_s:g} s")
out("I")
out("I", "=== Trace details ===")
out("I", f"Trace averages of {avgs} runs:")
limit, idx, count, sums = 200 * avgs, 0, 0, [0.0, 0.0, 0.0]
while idx < runs:
    if runs > 2 * limit and idx == limit:
        out("I", f"... Omitting {runs - 2 * limit} lines")
        idx = runs - limit
    sums = [sums[0] + gpu[idx], sums[1] + host[idx], sums[2] + enq[idx]]
    idx, count = idx + 1, count + 1
    if count == avgs:
        out("I", f"Average on {avgs} runs - GPU latency: {sums[0] / avgs:g} ms - Host latency: {sums[1] / avgs:g} ms "
                 f"(enqueue {sums[2] / avgs:g} ms)")
        count, sums = 0, [0.0, 0.0, 0.0]


def summary(values):
    s = sorted(values)
    median = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    stats = {"min": s[0], "max": s[-1], "mean": sum(s) / len(s), "median": median}
    stats.update({f"percentile({p:g}%)": s[max(len(s) - 1 - int((1 - p / 100) * len(s)), 0)] for p in percentiles})
    text = ", ".join(f"{k} = {v:g} ms" for k, v in stats.items())
    return text, {k: float(f"{v:g}") for k, v in stats.items()}


printed = {}
out("I")
out("I", "=== Performance summary ===")
out("I", f"Throughput: {runs / wall_s:g} qps")
for metric, values in (("Latency", host), ("Enqueue Time", enq), ("H2D Latency", h2d), ("GPU Compute Time", gpu),
                       ("D2H Latency", d2h)):
    text, printed[metric] = summary(values)
    out("I", f"{metric}: {text}")
out("I", f"Total Host Walltime: {wall_s:g} s")
out("I", f"Total GPU Compute Time: {sum(gpu) / 1000:g} s")
out("I", "Explanations of the performance metrics are printed in the verbose logs.")
out("I")
with open(os.path.join(HERE, "stats.json"), "w") as f:
    json.dump({"runs": runs, "warmups": warmups, "build_s": float(f"{build_s:g}"), "summary": printed,
               "host_ms": [float(f"{h:g}") for h in host], "throughput": float(f"{runs / wall_s:g}")}, f)
finish(True)
