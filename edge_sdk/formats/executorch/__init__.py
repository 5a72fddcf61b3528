"""ExecuTorch `.pte` with the XNNPACK delegate (format name `pte`; Android, Jetson CPU): a torch.export
program lowered by `exporter.py`, run on the ExecuTorch runtime's Python bindings (`runner.py`)."""

from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.executorch.exporter import PRECISIONS, export
from edge_sdk.formats.executorch.runner import measure, run_pte

FORMAT = Format(
    name="pte",
    exporter=export,
    runner=Runtime("executorch", "executed", run_pte, measure=measure),
    frameworks={"torch": PRECISIONS},
    size=SizeModel(base_bytes=4000, per_tensor_bytes=120, per_op_bytes=300),
    portable_fallback=True,  # ops the XNNPACK delegate does not take run on ExecuTorch's portable kernels
)
