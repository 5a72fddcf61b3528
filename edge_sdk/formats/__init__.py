"""Output formats, one folder each, registered by the name users type (profile `runtime.formats`).

    formats/<folder>/__init__.py   FORMAT: the `Format` spec (base.py) tying the pieces below together
    formats/<folder>/exporter.py   export(model, profile, config, out_dir) -> Artifact
    formats/<folder>/runner.py     run(artifact, inputs, reference=None) -> float outputs
    formats/common/                what several formats share (atomic writes, flatbuffer reader, I/O quantization)

Adding a format is adding a folder and its line below. Exporters and runners import their frameworks
(TensorFlow, torch, coremltools, ExecuTorch) inside functions, so importing this package is cheap.
"""

from edge_sdk.formats import coreml, executorch, onnx, pte_coreml, tflite, tflm
from edge_sdk.formats.base import ExportConfig, Format
from edge_sdk.registry import Registry

FORMATS: Registry[Format] = Registry("format")
for _folder in (
    tflite,
    tflm,
    coreml,
    executorch,
    pte_coreml,
    onnx,
):
    FORMATS.register(_folder.FORMAT.name)(_folder.FORMAT)



def producible_formats() -> dict[str, tuple[str, ...]]:
    """LoadedModel.framework -> the formats a model of it can be exported to (each Format's `frameworks`)."""
    found: dict[str, tuple[str, ...]] = {}
    for name in FORMATS.names():
        for framework in FORMATS.get(name).frameworks:
            found[framework] = found.get(framework, ()) + (name,)
    return found


__all__ = ["FORMATS", "ExportConfig", "Format", "producible_formats"]
