"""Exporters, one module per format, registered by the name a user types (tflite, tflm, coreml, ...).

Each module is imported here explicitly so the registry is complete whatever else was imported; the
modules import their frameworks lazily, inside `export()`.
"""

from edge_sdk.export import coreml, tflite, tflm  # noqa: F401  (fill EXPORTERS)
from edge_sdk.export import executorch  # noqa: F401  (pte, pte-coreml)
from edge_sdk.export.base import EXPORTERS, ExportConfig, register_exporter

__all__ = ["EXPORTERS", "ExportConfig", "register_exporter"]
