"""The frontend contract: what the generic stages need from a framework, declared in one frozen spec.

Each `edge_sdk/frameworks/<name>/__init__.py` registers one `Frontend` in FRONTENDS under its
`LoadedModel.framework` name; loading, analysis, verification, the build cache and the planner look
the model's framework up there instead of branching on framework names. A field left None is
something the framework does not do (a `.tflite` file is never wrapped, trained or rebuilt).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from edge_sdk.contracts.model import FrontendResult, LoadedModel, ModelInfo
from edge_sdk.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from edge_sdk.contracts.plan import Candidate
    from edge_sdk.profiles import Profile

Reference = Callable[[LoadedModel, "dict[str, np.ndarray]"], "list[np.ndarray]"]
Rungs = Callable[[ModelInfo, "Profile", str, bool], "list[Candidate]"]


@dataclass(frozen=True)
class CacheFormat:
    """How the build cache stores a trained model of this framework: one file in the entry directory."""

    file: str  # e.g. model.h5
    save: Callable[[Any, Path], None]  # (handle, path of `file`)
    load: Callable[[Path], Any]  # path of `file` -> handle (raises on anything it will not deserialise)


@dataclass(frozen=True)
class Frontend:
    name: str  # the LoadedModel.framework it produces
    suffixes: tuple[str, ...]  # file suffixes it claims (including ones it refuses with a reason)
    accepts: str  # what it loads, for "expected ..." messages, e.g. ".pt2"
    detect: Callable[[Path], str]  # LoadedModel.source_format of a claimed path, from its content
    load: Callable[[Path, str, bool], FrontendResult]  # (path, source format, trust_model)
    analyze: Callable[[LoadedModel], ModelInfo]
    formats: tuple[str, ...]  # artifact formats its models can be exported to (or run as, when converted)
    directories: bool = False  # claims directories (SavedModel)
    claims: Callable[[Any], bool] | None = None  # is this in-memory object one of its models?
    wrap: Callable[[Any, Any], LoadedModel] | None = None  # (in-memory model, example_inputs)
    reference: Reference | None = None  # the original model's float outputs on input arrays (verify)
    cache: CacheFormat | None = None  # None: its models are never trained, so never cached
    rungs: Rungs | None = None  # (info, profile, format, allows_float) -> its ladder; None: not rebuilt

    def claims_path(self, path: Path) -> bool:
        return self.directories if path.is_dir() else path.suffix.lower() in self.suffixes

    @property
    def converted(self) -> bool:
        """An already converted model (no rungs): it runs as it is, at its own precision, never rebuilt."""
        return self.rungs is None


FRONTENDS: Registry[Frontend] = Registry("framework")


def register_frontend(frontend: Frontend) -> Frontend:
    return FRONTENDS.register(frontend.name)(frontend)
