"""ExecuTorch `.pte` with the Core ML delegate (format name `pte-coreml`; iOS): lowered on Linux
(`exporter.py`), runnable only on Apple devices (`runner.py` reports it not run elsewhere)."""

from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.pte_coreml.exporter import export
from edge_sdk.formats.pte_coreml.runner import run

FORMAT = Format(
    name="pte-coreml",
    exporter=export,
    runner=Runtime("executorch", "executed", run),
    frameworks={"torch": ("float32",)},
    size=SizeModel(base_bytes=8000, per_tensor_bytes=120, per_op_bytes=300),
)
