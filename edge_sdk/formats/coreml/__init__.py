"""Core ML `.mlpackage` (iOS, macOS): an mlprogram converted by coremltools from tf_keras (`exporter.py`)
or a torch.export program (`exporter_torch.py`), with optional coremltools.optimize weight compression.
Run for real on macOS; on Linux checked structurally and simulated with the package's decompressed
weights (`runner.py`, `runner_torch.py`, `weights.py`)."""

from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.coreml import size
from edge_sdk.formats.coreml.exporter import PRECISIONS, compressions_for, export
from edge_sdk.formats.coreml.runner import EXECUTED, run, structural_checks

FORMAT = Format(
    name="coreml",
    exporter=export,
    runner=Runtime("coreml", "executed" if EXECUTED else "simulated", run, checks=structural_checks),
    frameworks={"keras": tuple(PRECISIONS), "torch": tuple(PRECISIONS)},
    size=SizeModel(base_bytes=size.BASE_BYTES, per_tensor_bytes=0, per_op_bytes=size.PER_OP_BYTES,
                   artifact_bytes=size.artifact_bytes),
    weight_compressions=compressions_for,
)
