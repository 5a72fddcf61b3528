"""Export and verify helpers shared by the torch tests."""

from __future__ import annotations


def export_pte(model, profile, out_dir, precision="float32", calibration=None):
    from edge_sdk.export import executorch
    from edge_sdk.export.base import ExportConfig

    return executorch.export(model, profile, ExportConfig(precision=precision, calibration=calibration), out_dir)


def verify_pte(artifact, reference, data):
    from edge_sdk.verify import verify

    return verify(artifact, reference, data)
