"""edge-sdk.yaml: the checked-in project file a release pipeline builds from.

Why a file: CI must rebuild exactly what a developer built, without a long command line that drifts.
The file names the model, the data, the targets with per-target budget overrides, the output, cache
and profiles dirs, and the devices `edge-sdk bench`/`devices` may use. It is validated strictly
(unknown keys are errors, so a typo cannot silently fall back to a default) and every relative path
is resolved against the file's own directory, so the build works from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from edge_sdk.contracts import FrozenModel

from edge_sdk.contracts.budgets import Budgets
from edge_sdk.errors import ConfigError

PROJECT_FILE = "edge-sdk.yaml"
DEVICE_KINDS = ("host", "ssh:", "adb", "serial:", "ios")


def _resolve(value: Optional[Path | str], info: ValidationInfo) -> Optional[Path]:
    if value is None:
        return None
    path = Path(value).expanduser()
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else (Path(base) / path).resolve()


def _is_path(data: str) -> bool:
    """`module:function` data sources stay as written; anything else is a file path."""
    return data.endswith(".npz") or ":" not in data


class TargetConfig(Budgets):
    """One target: a profile or family name plus its own budget overrides (flat keys)."""

    target: str = Field(min_length=1)

    def budgets(self) -> dict[str, Any]:
        """The overrides for `build(budget_overrides=...)`: project-wide budgets merged in at load time."""
        return self.overrides()


class Device(FrozenModel):
    """A device `edge-sdk bench --device NAME` and `edge-sdk devices` know by name."""

    name: str = Field(min_length=1)
    address: str  # host | ssh:USER@HOST[:PORT] | adb[:SERIAL] | serial:/dev/ttyX[@BAUD] | ios[:UDID]
    target: Optional[str] = None  # the profile/family this device is, to pick the artifact to bench
    identity_file: Optional[Path] = None  # ssh private key

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not value.startswith(DEVICE_KINDS):
            raise ValueError(f"{value!r} is not a device address; use host, ssh:USER@HOST[:PORT], adb[:SERIAL], serial:/dev/ttyX[@BAUD] or ios[:UDID]")
        return value

    @field_validator("identity_file")
    @classmethod
    def _key(cls, value: Optional[Path], info: ValidationInfo) -> Optional[Path]:
        return _resolve(value, info)


class InputNormalisation(FrozenModel):
    """`input: {mean, std}`: the app feeds (x - mean) / std; one value or one per channel."""

    mean: float | list[float]
    std: float | list[float]


class ReleaseMetadata(FrozenModel):
    """`metadata:` the artifacts' own description (TFLite Metadata, Core ML fields, the model card);
    `name` also names the artifact files (default: the model file's stem)."""

    name: Optional[str] = None
    version: Optional[str] = None
    author: Optional[str] = None
    license: Optional[str] = None
    description: Optional[str] = None


class ModelEntry(FrozenModel):
    """One model of a matrix build (`models:`); data not given here comes from the top-level keys."""

    model: Path
    calibration: Optional[str] = None
    train_data: Optional[str] = None
    eval_data: Optional[str] = None

    @field_validator("model")
    @classmethod
    def _path(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)  # type: ignore[return-value]

    @field_validator("calibration", "train_data", "eval_data")
    @classmethod
    def _data(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        return str(_resolve(value, info)) if value is not None and _is_path(value) else value


class Project(FrozenModel):
    model: Optional[Path] = None  # one model; or
    models: list[ModelEntry] = []  # several: a matrix build, OUT/<model name>/<profile>/ (docs/scale.md)
    trust_model: bool = False
    calibration: Optional[str] = None
    train_data: Optional[str] = None
    eval_data: Optional[str] = None
    targets: list[TargetConfig] = Field(min_length=1)
    budgets: Budgets = Budgets()  # defaults for every target; a target's own keys win
    out: Path = Path("out")
    profiles_dir: Optional[Path] = None
    search: Literal["first-fit", "pareto"] = "first-fit"
    seed: int = Field(0, ge=0)
    tasks: Optional[dict[str, str]] = None  # output name (or "*") -> classification | embedding | regression | ...
    jobs: Optional[int] = Field(None, ge=1)  # candidates built at once (default 1; on Ray, the cluster's CPUs)
    executor: str = "local"  # local | inline | ray | ray:HOST:PORT (docs/scale.md)
    candidate_timeout: Optional[float] = Field(None, gt=0, allow_inf_nan=False)  # seconds; default 1800
    cache_dir: Optional[Path] = None  # default: .edge-sdk-cache/ next to this file (or $EDGE_SDK_CACHE_DIR)
    devices: list[Device] = []
    labels: Optional[Path] = None  # class names, one per line (artifact_metadata.py)
    input: Optional[InputNormalisation] = None
    metadata: Optional[ReleaseMetadata] = None

    @field_validator("targets", mode="before")
    @classmethod
    def _target_shorthand(cls, value: Any) -> Any:
        """`- android` is short for `- target: android`."""
        if isinstance(value, list):
            return [{"target": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("model", "out", "profiles_dir", "cache_dir", "labels")
    @classmethod
    def _paths(cls, value: Optional[Path], info: ValidationInfo) -> Optional[Path]:
        return _resolve(value, info)

    @field_validator("calibration", "train_data", "eval_data")
    @classmethod
    def _data(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        return str(_resolve(value, info)) if value is not None and _is_path(value) else value

    @model_validator(mode="after")
    def _merge_budgets(self) -> "Project":
        if (self.model is None) == (not self.models):
            raise ValueError("give either model (one) or models (a list, for a matrix build)")
        names = [t.target for t in self.targets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"targets listed twice: {', '.join(duplicates)}")
        device_names = [d.name for d in self.devices]
        if len(set(device_names)) != len(device_names):
            raise ValueError("two devices share a name")
        defaults = self.budgets.overrides()
        if defaults:
            merged = [t.model_copy(update={**defaults, **t.overrides()}) for t in self.targets]
            object.__setattr__(self, "targets", merged)  # frozen: fold once, at validation
        return self

    def target_names(self) -> list[str]:
        return [t.target for t in self.targets]

    def device(self, name: str) -> Optional[Device]:
        return next((d for d in self.devices if d.name == name), None)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_project(data: Any, path: Path) -> Project:
    """Validate an already-read mapping; `path` names the file in errors and anchors relative paths."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a YAML mapping with model, calibration, targets, ... (see `edge-sdk init`)")
    try:
        return Project.model_validate(data, context={"base": path.parent.resolve()})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key; valid keys here: {', '.join(_valid_keys(err['loc']))}"
        raise ConfigError(f"{path}: field '{_where(err['loc'])}': {msg}") from None


def _valid_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = Project
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
    return list(model.model_fields)


def _check_files(project: Project, path: Path) -> None:
    entries = [("", project)] if project.model is not None else [(f"models[{i}].", e) for i, e in enumerate(project.models)]
    for where, entry in entries:
        if not entry.model.exists():  # type: ignore[union-attr]
            raise ConfigError(f"{path}: field '{where}model': {entry.model} does not exist")
    for where, entry in [("", project), *(e for e in entries if e[0])]:
        for key in ("calibration", "train_data", "eval_data"):
            value = getattr(entry, key)
            if value is not None and _is_path(value) and not Path(value).is_file():
                raise ConfigError(f"{path}: field '{where}{key}': {value} does not exist")
    if project.labels is not None and not project.labels.is_file():
        raise ConfigError(f"{path}: field 'labels': {project.labels} does not exist")
    if project.profiles_dir is not None and not project.profiles_dir.is_dir():
        raise ConfigError(f"{path}: field 'profiles_dir': {project.profiles_dir} is not a directory")


def _check_targets(project: Project, path: Path) -> None:
    from edge_sdk.errors import ProfileError
    from edge_sdk.profiles import get_profile

    for i, t in enumerate(project.targets):
        try:
            get_profile(t.target, project.profiles_dir)
        except ProfileError as exc:
            raise ConfigError(f"{path}: field 'targets[{i}].target': {exc}") from None


def load_project(path: str | Path) -> Project:
    """Read, validate and resolve edge-sdk.yaml; any problem is one ConfigError naming file and field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the project file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({' '.join(str(getattr(exc, 'problem', exc)).split())})") from None
    project = parse_project(data, path)
    _check_files(project, path)
    _check_targets(project, path)
    return project


def find_project(cwd: str | Path) -> Optional[Path]:
    """edge-sdk.yaml in `cwd` (not its parents: a build never picks up a stray file by surprise)."""
    candidate = Path(cwd) / PROJECT_FILE
    return candidate if candidate.is_file() else None
