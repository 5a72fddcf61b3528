"""Declared technique configs: every technique's keys with their types, ranges and defaults.

A technique declares a frozen pydantic model (unknown keys forbidden) derived from `TechniqueConfig`,
or from `TrainingConfig` when it fine-tunes. Step params are validated when a ladder is built or a
plan file is read (`edge_sdk.techniques.dispatch.validate_step`), and the technique receives the
parsed config, defaults filled in. A bad value is a `ConfigError` naming the technique, the field and
what it allows, e.g. `prune: sparsity must be in (0, 1); got 1.5`.

`seed` and `progress` are runtime keys: the search sets them (`--seed`, `--quiet`), a step's params
may not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, TypeVar, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_sdk.errors import ConfigError

# Field types with their ranges (the error message states the range from these).
Count = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]  # (0, 1): sparsity, rank fraction
UpToOne = Annotated[float, Field(gt=0, le=1)]  # (0, 1]: width, energy
Weight = Annotated[float, Field(ge=0, le=1)]  # [0, 1]: a loss weight

RUNTIME_KEYS = ("seed", "progress")
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "literal_error"}

C = TypeVar("C", bound="TechniqueConfig")


class TechniqueConfig(BaseModel):
    """Keys every technique accepts: only the runtime ones."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    seed: int = 0  # runtime: seeds Python/NumPy/the framework; same seed, same bytes
    progress: bool = True  # runtime: rich progress bars (off with --quiet)

    @classmethod
    def parse(cls: type[C], config: Mapping[str, Any], technique: str) -> C:
        """The validated config; ConfigError naming `technique`, each bad field and what it allows."""
        try:
            return cls.model_validate(dict(config))
        except ValidationError as exc:
            problems = "; ".join(_problem(cls, error) for error in exc.errors())
            raise ConfigError(f"{technique}: {problems}") from None

    @classmethod
    def user_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in RUNTIME_KEYS]


class TrainingConfig(TechniqueConfig):
    """The common training keys of every technique that fine-tunes (knowledge distillation)."""

    epochs: Count = 10  # upper bound; early stopping on a plateau usually ends sooner
    batch_size: Count = 32
    learning_rate: Positive = 1e-4
    patience: NonNegative = 2  # epochs without improvement of the loss before stopping
    temperature: Positive = 2.0  # KD temperature
    use_labels: bool = False  # add cross-entropy on the labels (when the train set has them)
    alpha: Weight = 0.5  # with labels: alpha * KD + (1 - alpha) * CE
    min_delta: Annotated[float, Field(ge=0)] = 1e-4  # smaller loss improvements count as a plateau
    max_samples: Count | None = None  # cap on training samples


def _problem(cls: type[TechniqueConfig], error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    got = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r}; valid: {', '.join(cls.user_fields())}"
    if error["type"] == "missing":
        return f"{field} is required"
    if error["type"] == "value_error":  # a validator's own message
        return f"{str(error['msg']).removeprefix('Value error, ')}; got {got!r}"
    allowed = allowed_values(cls, field)
    if error["type"] in _RANGE_ERRORS:
        return f"{field} must be {allowed}; got {got!r}"
    reason = str(error["msg"])
    reason = reason[:1].lower() + reason[1:]
    return f"{field} must be {allowed}; got {got!r} ({reason})" if allowed else f"{field}: {reason}; got {got!r}"


def allowed_values(cls: type[TechniqueConfig], field: str) -> str:
    """What a field allows, from its declaration: `in (0, 1)`, `>= 2`, `one of a, b`, `... or null`."""
    info = cls.model_fields.get(field)
    if info is None:
        return ""
    annotation = info.annotation
    nullable = type(None) in get_args(annotation)
    literals = [str(v) for v in _literals(annotation)]
    if literals:
        text = f"one of {', '.join(literals)}"
    else:
        text = _range([*info.metadata, *_constraints(annotation)])
    return f"{text} or null" if text and nullable else text


def _literals(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) is Union:
        return [v for arg in get_args(annotation) for v in _literals(arg)]
    return []


def _constraints(annotation: Any) -> list[Any]:
    """annotated_types bounds inside Annotated[...] / Optional[Annotated[...]] declarations."""
    if get_origin(annotation) is Annotated:
        return [m for meta in get_args(annotation)[1:] for m in getattr(meta, "metadata", [meta])]
    if get_origin(annotation) is Union:
        return [c for arg in get_args(annotation) for c in _constraints(arg)]
    return []


def _range(constraints: list[Any]) -> str:
    low = next((c for c in constraints if isinstance(c, (annotated_types.Gt, annotated_types.Ge))), None)
    high = next((c for c in constraints if isinstance(c, (annotated_types.Lt, annotated_types.Le))), None)
    lo = None if low is None else getattr(low, "gt", getattr(low, "ge", None))
    hi = None if high is None else getattr(high, "lt", getattr(high, "le", None))
    if low is not None and high is not None:
        left = "(" if isinstance(low, annotated_types.Gt) else "["
        right = ")" if isinstance(high, annotated_types.Lt) else "]"
        return f"in {left}{lo}, {hi}{right}"
    if low is not None:
        return f"{'>' if isinstance(low, annotated_types.Gt) else '>='} {lo}"
    if high is not None:
        return f"{'<' if isinstance(high, annotated_types.Lt) else '<='} {hi}"
    return ""
