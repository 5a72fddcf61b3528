"""Full-int8 PTQ with the most quantization-sensitive ops kept float ("int8-mixed").

Sensitivity per op is measured, not guessed. LiteRT's QuantizationDebugger runs the int8 model with the
float reference side by side on the calibration data and reports each quantized op's error in
isolation, in units of its quantization step (RMSE / scale, the metric the LiteRT debugger guide
recommends); its MAX_PROBES most sensitive ops are then probed end to end (each alone kept float, the
outputs' SQNR against the float model), which leads the order (see _FloatSearch for why). Ops go back
to float in that order, greedily, until the outputs on the calibration data meet the build's fidelity
floor (`--min-fidelity`, by each output's kind): doubling from one op, then a bisection down to the
fewest that meet it, at most MAX_FLOAT_FRACTION of the ranked ops (beyond that the artifact is mostly
float: dynamic-int8 or fp16 rungs are the better trade). One calibration serves every try (the
debugger re-quantizes its calibrated model with each denylist). Only for targets that can run float
ops (not TFLM / integer NPUs). The record lists the ops kept float and why, and every count tried.
"""

from __future__ import annotations

import io
import math
import time
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.data import Dataset
from edge_sdk.errors import ExportError
from edge_sdk.formats.common.flatbuffer import read_graph
from edge_sdk.formats.tflite.runner import input_order
from edge_sdk.frameworks.keras.techniques.calibration_judge import CalibrationJudge
from edge_sdk.frameworks.keras.techniques.ptq import converter_error, keras_converter, representative_dataset
from edge_sdk.contracts.records import StepRecord

MAX_FLOAT_FRACTION = 0.25  # at most this share of the ranked ops' tensors goes back to float
MIN_FLOAT_CAP = 2  # ... but at least two (a small model has few ops to choose from)
MAX_PROBES = 16  # ops probed end to end (each kept float alone), the debugger's most sensitive first
NON_COMPUTE_OPS = {"RESHAPE", "MAX_POOL_2D", "QUANTIZE", "DEQUANTIZE", "SOFTMAX", "CONCATENATION", "PAD"}


def _sensitivity(debugger: Any) -> list[tuple[str, str, float]]:
    """(tensor name, op, rmse/scale) for every quantized compute op, most sensitive first."""
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    rows = buf.getvalue().strip().splitlines()
    header = rows[0].split(",")
    col = {name: i for i, name in enumerate(header)}
    ranked = []
    for line in rows[1:]:
        # tensor names may contain commas: split off the fixed leading columns only
        parts = line.split(",", len(header) - 1)
        op, scale, mse = parts[col["op_name"]], float(parts[col["scale"]]), float(parts[col["mean_squared_error"]])
        if op in NON_COMPUTE_OPS or scale <= 0:
            continue
        ranked.append((parts[col["tensor_name"]], op, math.sqrt(mse) / scale))
    return sorted(ranked, key=lambda r: -r[2])


def _interpreter_input_order(model: Any, names: list[str]) -> list[int]:
    """For each input of the converted model (interpreter order), its position in `names`. A single
    input needs no conversion to know it."""
    if len(names) == 1:
        return [0]
    float_model = keras_converter(model).convert()
    details = deps.litert_interpreter()(model_content=float_model).get_input_details()
    position = input_order(details, names)  # name -> interpreter index
    return [position.index(i) for i in range(len(details))]


def convert_int8_mixed(model: Any, calibration: Dataset, max_samples: int, floor: dict[str, float] | None = None,
                       kinds: dict[str, str] | None = None) -> tuple[bytes, StepRecord]:
    """`floor`: metric -> minimum the outputs must meet on the calibration data (edge_sdk.fidelity
    metrics; None: DEFAULT_MIN_FIDELITY); `kinds`: output name -> kind (None: by output shape)."""
    tf = deps.tensorflow()
    start = time.perf_counter()
    calibrate, used = representative_dataset(calibration, max_samples)
    order = _interpreter_input_order(model, list(calibration.inputs))

    def gen():  # the debugger takes lists only, in the converted model's input order
        for sample in calibrate():
            values = list(sample.values()) if isinstance(sample, dict) else sample
            yield [values[i] for i in order]

    converter = keras_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibrate
    try:
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=gen)
        debugger.run()
    except Exception as exc:  # the converter raises ConverterError/RuntimeError with MLIR diagnostics
        raise ExportError(f"TFLite conversion (int8-mixed) failed: {converter_error(exc)}") from exc
    ranked = _sensitivity(debugger)
    search = _FloatSearch(debugger, ranked, CalibrationJudge(model, calibration, used, floor, kinds))
    keep_float, flatbuffer = search.run()
    record = StepRecord(
        technique="ptq",
        params={"mode": "int8-mixed", "max_samples": max_samples},
        metrics={
            "calibration_samples": used,
            "bytes": len(flatbuffer),
            "keep_float": keep_float,
            "floor_met_on_calibration": not search.tried[keep_float],
            "tried": {str(k): "; ".join(text for text, _ in m) or "meets the floor" for k, m in sorted(search.tried.items())},
            "sensitivity_rmse_per_scale": {name: round(s, 4) for name, _, s in ranked},
            "sensitivity_alone_float_sqnr_db": {name: round(v, 2) for name, v in search.probed.items()},
        },
        notes=tuple(search.why(name) for name in search.names[:keep_float]),
        wall_s=time.perf_counter() - start,
    )
    return flatbuffer, record


class _FloatSearch:
    """Which ops, and how few, must stay float for the outputs to meet the floor.

    The unit kept float is an op's output tensor: the op and the ops that read that tensor (keeping
    only the op float does nothing when its reader quantizes the same tensor again). The debugger's
    per-op error is measured in isolation and in units of the op's own quantization step, so it misses
    an op whose output scale is set by one wide channel (its step looks fine, its narrow channels are
    lost). So the tensors of the first MAX_PROBES ops it ranks are probed end to end: each alone kept
    float, the outputs' SQNR against the float model on the calibration data; those lead the order by
    that gain, the rest follow the debugger's ranking."""

    def __init__(self, debugger: Any, ranked: list, judge: CalibrationJudge):
        self.debugger, self.judge = debugger, judge
        self.isolated = {name: (op, score) for name, op, score in ranked}
        self.names = [name for name, _, _ in ranked]
        self.readers = _readers(bytes(debugger.calibrated_model))
        self.probed: dict[str, float] = {}  # op -> output SQNR (dB, mean over outputs) with it alone float
        self.tried: dict[int, list[tuple[str, float]]] = {}  # tensors kept float -> what misses the floor, by how much
        self.models: dict[int, bytes] = {}

    def _quantized(self, denylist: list[str]) -> bytes:
        tf = deps.tensorflow()
        try:
            self.debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist)
            return bytes(self.debugger.get_nondebug_quantized_model())
        except Exception as exc:  # noqa: BLE001 - as in convert_int8_mixed
            raise ExportError(f"TFLite conversion (int8-mixed) failed: {converter_error(exc)}") from exc

    def _order(self) -> None:
        for name in self.names[:MAX_PROBES]:
            self.probed[name] = float(np.mean(self.judge.sqnr_db(self.judge.outputs(self._quantized(self._unit(name))))))
        lead = sorted(self.probed, key=lambda n: -self.probed[n])
        self.names = lead + [n for n in self.names if n not in self.probed]

    def _unit(self, name: str) -> list[str]:
        return [name, *self.readers.get(name, ())]

    def _try(self, k: int) -> bool:
        flatbuffer = self._quantized(list(dict.fromkeys(n for name in self.names[:k] for n in self._unit(name))))
        self.tried[k] = self.judge.misses(self.judge.outputs(flatbuffer))
        self.models[k] = flatbuffer
        return not self.tried[k]

    def run(self) -> tuple[int, bytes]:
        """(tensors kept float, the flatbuffer): the fewest that meet the floor (doubling, then
        bisection), else the count that came closest."""
        self._order()
        cap = min(len(self.names), max(MIN_FLOAT_CAP, int(MAX_FLOAT_FRACTION * len(self.names))))
        k, failed = 1, 0
        while not self._try(k) and k < cap:
            failed, k = k, min(cap, 2 * k)
        if not self.tried[k]:
            passed = k
            while passed - failed > 1:  # the fewest float ops that still meet the floor
                mid = (failed + passed) // 2
                failed, passed = (failed, mid) if self._try(mid) else (mid, passed)
            k = passed
        else:
            k = min(self.tried, key=lambda n: (sum(short for _, short in self.tried[n]), n))
        return k, self.models[k]

    def why(self, name: str) -> str:
        op, score = self.isolated[name]
        readers = f" and its readers {', '.join(self.readers[name])}" if self.readers.get(name) else ""
        alone = f", outputs {self.probed[name]:.1f} dB with it alone float" if name in self.probed else ""
        return f"kept float: {name}{readers} ({op}, rmse/scale {score:.3f}{alone})"


def _readers(flatbuffer: bytes) -> dict[str, list[str]]:
    """Tensor name -> the output tensor names of the ops that read it."""
    graph = read_graph(flatbuffer)
    readers: dict[str, list[str]] = {}
    for op in graph.ops:
        for t in op.inputs:
            if t >= 0 and not graph.tensors[t].constant:
                readers.setdefault(graph.tensors[t].name, []).extend(graph.tensors[o].name for o in op.outputs)
    return readers

