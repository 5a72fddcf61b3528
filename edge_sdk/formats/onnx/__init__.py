"""ONNX `.onnx` for TensorRT on a Jetson's GPU (format name `onnx`): exported from Keras (tf2onnx) or
PyTorch (torch.onnx, dynamo) by `exporter.py`, int8 as explicit Q/DQ (`quantize.py`), verified on
ONNX Runtime's CPU provider (`runner.py`); TensorRT builds and times the engine on the board."""

from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.onnx.exporter import PRECISIONS, export
from edge_sdk.formats.onnx.runner import measure, run

FORMAT = Format(
    name="onnx",
    exporter=export,
    runner=Runtime("onnxruntime", "executed", run, measure=measure),
    frameworks={"keras": PRECISIONS, "torch": PRECISIONS},
    # protobuf: names, shapes and attributes per tensor and node (a first estimate, not yet calibrated)
    size=SizeModel(base_bytes=300, per_tensor_bytes=80, per_op_bytes=60),
)
