"""ExecuTorch `.pte` with the Core ML partitioner ("pte-coreml"; iOS): the `pte` lowering
(`formats/executorch/exporter.py`) with `CoreMLPartitioner`, float32 programs only, and the Core ML
delegate's random identifiers and conversion dates rewritten so the same model and seed give
byte-identical files, on any day.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from edge_sdk.frameworks.torch.graph import is_quantized
from edge_sdk.errors import ConfigError
from edge_sdk.formats.base import ExportConfig
from edge_sdk.formats.executorch.exporter import write_pte
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact


def coreml_partitioner() -> Any:
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    return CoreMLPartitioner()


_MANIFEST_START = b'{\n    "fileFormatVersion"'


def canonical_manifests(buffer: bytes, seed: int) -> bytes:
    """Give each Core ML delegate's embedded mlpackage Manifest.json seed-derived item UUIDs.

    coremltools' native ModelPackage writer draws random UUIDs for the manifest items and lists them
    sorted by UUID; rewriting them (same length, entries ordered by path) keeps every offset in the
    program valid and makes the bytes reproducible.
    """
    start, n = 0, 0
    while (i := buffer.find(_MANIFEST_START, start)) >= 0:
        text = buffer[i:].decode("latin-1")
        manifest, end = json.JSONDecoder().raw_decode(text)
        entries = manifest.get("itemInfoEntries", {})
        renamed = {}
        for old, entry in sorted(entries.items(), key=lambda kv: kv[1].get("path", "")):
            renamed[old] = str(uuid.UUID(int=(seed << 64) + (n << 16) + len(renamed)))
        manifest["itemInfoEntries"] = {renamed[k]: v for k, v in entries.items()}
        manifest["rootModelIdentifier"] = renamed.get(manifest.get("rootModelIdentifier"), manifest.get("rootModelIdentifier"))
        new = json.dumps(manifest, indent=4, sort_keys=True).encode("latin-1")
        if len(new) != end:  # an unexpected layout: leave this manifest as it is rather than corrupt the program
            start = i + end
            continue
        buffer = buffer[:i] + new + buffer[i + end :]
        for old, fresh in renamed.items():
            buffer = buffer.replace(old.encode(), fresh.encode())
        start, n = i + end, n + 1
    return buffer


_IDENTIFIER = re.compile(rb"executorch_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_identifiers(buffer: bytes, seed: int) -> bytes:
    """The Core ML preprocessor names each delegate `executorch_<uuid4>` (the on-device compiled-model
    cache key); rename them, in order of appearance, to seed-derived UUIDs of the same length."""
    found = list(dict.fromkeys(m.group(0) for m in _IDENTIFIER.finditer(buffer)))
    for k, old in enumerate(found):
        buffer = buffer.replace(old, b"executorch_" + str(uuid.UUID(int=(seed << 64) + (1 << 48) + k)).encode())
    return buffer


_CONVERSION_DATE = re.compile(rb"(com\.github\.apple\.coremltools\.conversion_date\x12\x0a)\d{4}-\d{2}-\d{2}")
FIXED_DATE = b"1970-01-01"


def fixed_conversion_dates(buffer: bytes) -> bytes:
    """coremltools stamps each delegate's model spec with the day of conversion (a protobuf map value of
    10 bytes): replace it with a fixed date of the same length, so a build on another day is the same
    bytes and every offset in the program stays valid."""
    return _CONVERSION_DATE.sub(lambda m: m.group(1) + FIXED_DATE, buffer)


def canonical(buffer: bytes, seed: int) -> bytes:
    return fixed_conversion_dates(canonical_identifiers(canonical_manifests(buffer, seed), seed))


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    if config.precision != "float32" or (model.framework == "torch" and is_quantized(model.handle)):
        raise ConfigError(
            "pte-coreml lowers float32 programs only (the XNNPACK int8 quantization does not carry over to "
            "Core ML); for a smaller iOS model use the coreml format with a coreml_compression"
        )
    return write_pte("pte-coreml", "coreml", coreml_partitioner, model, config, out_dir, canonical)
