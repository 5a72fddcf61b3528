"""Device profiles: YAML data validated by frozen pydantic models.

Built-in profiles live in `device_profiles/` (one file per device). Users add their own with
`--profiles-dir DIR` (or `profiles_dir:` in edge-sdk.yaml); a user profile may `extends: <builtin name>`
and override any field (mappings merge recursively, lists replace). Every number carries a `source:`
on its section so a reader can check where it came from.

`--target` accepts a profile name or a family name; a family resolves to the profile that has
`default_for_family: true`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from edge_sdk.contracts import FrozenModel

from edge_sdk.errors import ProfileError

FAMILIES = ("android", "ios", "cortex-m", "jetson")
Family = Literal["android", "ios", "cortex-m", "jetson"]
Format = Literal["tflite", "tflm", "coreml", "pte", "pte-coreml", "onnx"]
DType = Literal["int8", "int16", "float16", "float32"]
# planner/cost_model.py FEATURES (kept literal here: profiles load without the planner)
CostFeature = Literal["conv", "depthwise", "pointwise", "dense", "elementwise", "pooling", "activation",
                      "data_movement", "ops", "weight_bytes"]
# Which op vocabulary a format's op list is written in (see LayerInfo.runtime_ops).
OP_NAMESPACE: dict[str, str] = {
    "tflite": "tflite",
    "tflm": "tflite",
    "coreml": "coreml",
    "pte": "aten",
    "pte-coreml": "aten",
    "onnx": "onnx",
}

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "device_profiles"


class Memory(FrozenModel):
    ram_bytes: int = Field(gt=0)
    ram_budget_bytes: int = Field(gt=0, description="RAM the model may use (arena / working memory)")
    flash_bytes: int = Field(gt=0, description="storage for the model (flash on MCUs, app size elsewhere)")
    flash_budget_bytes: int = Field(gt=0)
    source: str

    @model_validator(mode="after")
    def _budgets_fit(self) -> "Memory":
        if self.ram_budget_bytes > self.ram_bytes:
            raise ValueError("ram_budget_bytes exceeds ram_bytes")
        if self.flash_budget_bytes > self.flash_bytes:
            raise ValueError("flash_budget_bytes exceeds flash_bytes")
        return self


class KernelCosts(FrozenModel):
    """Per-op-kind costs of a unit's kernel library (planner/cost_model.py; docs/estimates.md)."""

    library: str = Field(description="the kernels these costs are for: cmsis-nn, tflm-reference, xnnpack, ...")
    cycles: dict[DType, dict[CostFeature, float]] = Field(
        description="per compute dtype: cycles (of compute.clock_hz) per MAC of a MAC kind, per element of an "
        "element kind, per op dispatched (ops), per weight byte read (weight_bytes)")
    fit: dict[str, Any] | None = Field(default=None, description="how `edge-sdk calibrate` fitted them: models, errors")
    error_band: dict[DType, tuple[float, float]] = Field(
        default_factory=dict,
        description="per compute dtype: the lowest and highest measured / estimated latency ratio seen when each "
        "calibration model was predicted by a fit without it; an estimate's band is [low, high] x the estimate")
    source: str

    @model_validator(mode="after")
    def _non_negative(self) -> "KernelCosts":
        for dtype, table in self.cycles.items():
            for feature, value in table.items():
                if value < 0:
                    raise ValueError(f"cycles.{dtype}.{feature} is {value}; a cost cannot be negative")
        for dtype, (low, high) in self.error_band.items():
            if not 0 < low <= high:
                raise ValueError(f"error_band.{dtype} is [{low}, {high}]; it needs 0 < low <= high")
        return self


class ComputeUnit(FrozenModel):
    name: str
    dtypes: dict[DType, float] = Field(description="sustained multiply-accumulates per second per dtype")
    efficiency: float = Field(
        default=1.0, gt=0, le=1.0, description="fraction of peak reached on small conv nets (derate)"
    )
    formats: tuple[Format, ...] | None = Field(
        default=None,
        description="formats whose runtime can schedule work on this unit; None = every format of the profile, "
        "() = none of ours",
    )
    memory_bandwidth_bytes_per_s: float | None = Field(
        default=None, gt=0, description="DRAM bandwidth the unit reads weights and activations at (roofline bound)")
    launch_overhead_s: float | None = Field(
        default=None, ge=0, description="fixed time per layer (a GPU kernel launch), added to each layer's compute time")
    runtime_version: str | None = Field(default=None, description="the runtime on the unit, e.g. 'TensorRT 10.3 (JetPack 6.2)'")
    kernels: KernelCosts | None = Field(default=None, description="per-op-kind costs; without them one MAC rate")
    source: str


class Compute(FrozenModel):
    cpu: str
    clock_hz: int = Field(gt=0)
    units: tuple[ComputeUnit, ...] = Field(min_length=1)
    source: str


class Runtime(FrozenModel):
    formats: tuple[Format, ...] = Field(min_length=1, description="in order of preference")
    dtypes: tuple[DType, ...] = Field(min_length=1)
    ops: dict[Literal["tflite", "coreml", "aten", "onnx"], tuple[str, ...]] = Field(
        description="supported ops per op vocabulary (tflite builtins, Core ML MIL ops, aten ops, ONNX operators)"
    )
    constraints: dict[str, Any] = Field(default_factory=dict)
    source: str


class Connection(FrozenModel):
    kind: Literal["serial", "adb", "ssh", "ios", "host"]
    baud: int | None = None
    address: str | None = None


class Profile(FrozenModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    family: Family
    default_for_family: bool = False
    description: str
    memory: Memory
    compute: Compute
    runtime: Runtime
    latency_budget_ms: float = Field(gt=0)
    connection: Connection
    sources: tuple[str, ...] = Field(min_length=1)

    @property
    def int8_only(self) -> bool:
        """True where the target cannot run float ops (MCUs, integer NPUs): float rungs are skipped."""
        return set(self.runtime.dtypes) <= {"int8", "int16"}

    def ops_for(self, fmt: str) -> frozenset[str]:
        return frozenset(self.runtime.ops.get(OP_NAMESPACE[fmt], ()))

    def units_for(self, fmt: str) -> tuple[ComputeUnit, ...]:
        """The compute units an artifact of this format can run on (a .pte with XNNPACK never reaches the ANE)."""
        return tuple(u for u in self.compute.units if u.formats is None or fmt in u.formats)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# libyaml's loader is ~10x faster than the pure-Python one on the long op lists (`profiles list` speed).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ProfileError(f"{path}:{where} is not valid YAML ({' '.join(str(getattr(exc, 'problem', exc)).split())})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile must be a YAML mapping with name, family, memory, ...")
    return data


def _validate(data: dict, path: Path) -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ProfileError(f"{path}: field '{field}': {err['msg']}") from None


def _scan(directory: Path) -> dict[str, tuple[Path, dict]]:
    if not directory.is_dir():
        raise ProfileError(f"profiles dir {directory} does not exist or is not a directory")
    raw: dict[str, tuple[Path, dict]] = {}
    for path in sorted(directory.glob("*.y*ml")):
        data = _read_yaml(path)
        name = data.get("name")
        if not isinstance(name, str):
            raise ProfileError(f"{path}: field 'name' is missing; every profile needs a name")
        if name in raw:
            raise ProfileError(f"{path}: profile name {name!r} is also defined in {raw[name][0]}")
        raw[name] = (path, data)
    return raw


def _resolve(name: str, raw: dict[str, tuple[Path, dict]], seen: tuple[str, ...] = ()) -> dict:
    path, data = raw[name]
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(f"{path}: field 'extends': must be a profile name, not {type(parent).__name__}")
    if parent in seen + (name,):
        raise ProfileError(f"{path}: field 'extends': cycle through {parent!r}")
    if parent not in raw:
        raise ProfileError(f"{path}: field 'extends': unknown profile {parent!r}; valid: {', '.join(sorted(raw))}")
    child = {k: v for k, v in data.items() if k != "extends"}
    base = _resolve(parent, raw, seen + (name,))
    return _deep_merge({**base, "default_for_family": False}, child)


@lru_cache(maxsize=8)
def _load_all(user_dir: str | None) -> dict[str, Profile]:
    raw = _scan(BUILTIN_DIR)
    if user_dir is not None:
        user = _scan(Path(user_dir))
        raw.update(user)  # a user profile with a built-in's name replaces it
    profiles = {name: _validate(_resolve(name, raw), raw[name][0]) for name in raw}
    for family in FAMILIES:
        defaults = [p.name for p in profiles.values() if p.family == family and p.default_for_family]
        if len(defaults) > 1:
            raise ProfileError(f"family {family!r} has several default profiles: {', '.join(defaults)}")
    return profiles


def list_profiles(profiles_dir: str | Path | None = None) -> list[Profile]:
    found = _load_all(str(Path(profiles_dir).resolve()) if profiles_dir else None)
    return sorted(found.values(), key=lambda p: (FAMILIES.index(p.family), p.name))


def get_profile(target: str, profiles_dir: str | Path | None = None) -> Profile:
    """A profile by name, or the default profile of a family name."""
    profiles = {p.name: p for p in list_profiles(profiles_dir)}
    if target in profiles:
        return profiles[target]
    if target in FAMILIES:
        for profile in profiles.values():
            if profile.family == target and profile.default_for_family:
                return profile
        family_members = [p for p in profiles.values() if p.family == target]
        if family_members:
            return family_members[0]
    valid = ", ".join(list(FAMILIES) + sorted(profiles))
    raise ProfileError(f"unknown target {target!r}; valid targets: {valid}")


def load_profile_file(path: str | Path, profiles_dir: str | Path | None = None) -> Profile:
    """Validate one profile file (resolving `extends` against the built-ins and profiles_dir)."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile file {path} does not exist")
    raw = _scan(BUILTIN_DIR)
    if profiles_dir:
        raw.update(_scan(Path(profiles_dir)))
    data = _read_yaml(path)
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise ProfileError(f"{path}: field 'name': must be a string, not {type(name).__name__}")
    raw[name] = (path, data)
    return _validate(_resolve(name, raw), path)
