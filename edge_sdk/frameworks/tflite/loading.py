"""TFLite frontend: a `.tflite` flatbuffer for `inspect` and `bench` (it is already converted, so it is
never compressed again). The handle is the flatbuffer's bytes; LiteRT reads the input/output specs."""

from __future__ import annotations

from pathlib import Path

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError, first_line
from edge_sdk.contracts.model import FrontendResult, TensorSpec


def detect(path: Path) -> str:
    """tflite, when the file carries the flatbuffer's TFL3 identifier."""
    with path.open("rb") as fh:
        if fh.read(8)[4:8] != b"TFL3":
            raise ModelLoadError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier; corrupt or wrong suffix)")
    return "tflite"


def _specs(details: list[dict]) -> tuple[TensorSpec, ...]:
    import numpy as np

    specs = []
    for d in details:
        signature = d.get("shape_signature", d["shape"])
        shape = tuple(None if int(s) < 0 else int(s) for s in signature)
        specs.append(TensorSpec(d["name"].split(":")[0], shape, np.dtype(d["dtype"]).name))
    return tuple(specs)


def specs_of(flatbuffer: bytes, where: str = "flatbuffer") -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """(inputs, outputs) of a .tflite flatbuffer, read by LiteRT."""
    try:
        interp = deps.litert_interpreter()(model_content=flatbuffer)
    except (ValueError, RuntimeError) as exc:
        first = first_line(exc)
        raise ModelLoadError(f"{where}: LiteRT cannot read this flatbuffer (corrupt or truncated): {first}") from exc
    return _specs(interp.get_input_details()), _specs(interp.get_output_details())


def load(path: Path) -> FrontendResult:
    data = path.read_bytes()
    return FrontendResult("tflite", data, *specs_of(data, str(path)))
