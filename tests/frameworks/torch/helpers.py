"""Export and verify helpers shared by the torch tests."""

from __future__ import annotations


def export_pte(model, profile, out_dir, precision="float32", calibration=None):
    from edge_sdk.formats.base import ExportConfig
    from edge_sdk.formats.executorch import exporter

    return exporter.export(model, profile, ExportConfig(precision=precision, calibration=calibration), out_dir)


def verify_pte(artifact, reference, data):
    from edge_sdk.verify import verify

    return verify(artifact, reference, data)
