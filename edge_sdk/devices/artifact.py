"""What `edge-sdk bench PATH` benchmarks: a build output dir `OUT/<profile>` or an artifact file.

In a build output dir the artifact is the one report.json names, else the first file with an artifact
suffix (artifacts are named after the model: NAME.pte, NAME.tflite ...; .pte first, then .mlpackage,
.onnx, .tflite). The format comes from report.json when there is one, else from the files: .pte -> pte,
.mlpackage -> coreml, .onnx -> onnx (TensorRT), .tflite + model_data.cc -> tflm, .tflite alone -> tflite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import ArenaInfo, Artifact

SUFFIX_FORMAT = {".pte": "pte", ".mlpackage": "coreml", ".onnx": "onnx", ".tflite": "tflite"}  # in pick order


@dataclass(frozen=True)
class BenchTarget:
    artifact: Artifact
    out_dir: Path  # where bench.json goes (next to report.json when there is one)
    report: dict | None  # report.json, when the artifact came from `edge-sdk build`

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.json"


def _read_report(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise DeviceError(f"{path} is not valid JSON ({exc}); rebuild with `edge-sdk build`") from None


def _format_of(main: Path, report: dict | None) -> str:
    entry = ((report or {}).get("artifacts") or [{}])[0]
    if entry.get("format") and entry.get("path") == main.name:
        return entry["format"]
    fmt = SUFFIX_FORMAT.get(main.suffix)
    if fmt is None:
        raise DeviceError(f"{main}: not a model artifact; expected a .tflite, .pte, .onnx or .mlpackage file or a build output dir")
    return "tflm" if fmt == "tflite" and (main.parent / "model_data.cc").exists() else fmt


def resolve_target(path: str | Path) -> BenchTarget:
    from edge_sdk.formats.common.atomic import make_artifact

    path = Path(path)
    if not path.exists():
        raise DeviceError(f"{path} does not exist; pass a build output dir (OUT/<profile>) or an artifact file")
    if path.is_dir() and path.suffix != ".mlpackage":
        named = (((_read_report(path / "report.json") or {}).get("artifacts") or [{}])[0]).get("path")
        found = [path / named] if named and Path(named).suffix in SUFFIX_FORMAT and (path / named).exists() else []
        found += [p for suffix in SUFFIX_FORMAT for p in sorted(path.glob(f"*{suffix}"))]  # the build's own first
        if not found:
            raise DeviceError(f"{path} holds no {', '.join('*' + s for s in SUFFIX_FORMAT)} artifact; pass the dir "
                              "`edge-sdk build` wrote (OUT/<profile>)")
        main = found[0]
    else:
        main = path
    out_dir = main.parent
    report = _read_report(out_dir / "report.json")
    fmt = _format_of(main, report)
    entry = ((report or {}).get("artifacts") or [{}])[0]
    siblings = [out_dir / n for n in ("model_data.cc", "model_data.h", "op_resolver.h")] if fmt == "tflm" else []
    artifact = make_artifact(
        fmt, main, [main] + [p for p in siblings if p.exists()], entry.get("precision", "unknown"), (),
        entry.get("details") or {}, ArenaInfo(**entry["arena"]) if entry.get("arena") else None,
    )
    return BenchTarget(artifact, out_dir, report)
