"""The limits a model must meet on a target: from the profile, overridden by flags or edge-sdk.yaml.

RAM, flash and latency default to the profile's `memory.ram_budget_bytes`, `memory.flash_budget_bytes`
and `latency_budget_ms`. Quality defaults to at most a 1-point accuracy drop (with labels) or at least
0.99 top-1 agreement with the original model (without labels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from edge_sdk.errors import BudgetError
from edge_sdk.profiles import Profile

DEFAULT_MAX_ACCURACY_DROP = 1.0  # points
DEFAULT_MIN_FIDELITY = 0.99  # top-1 agreement (or cosine for non-classifiers)


@dataclass(frozen=True)
class Budgets:
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    latency_ms: float | None = None
    max_accuracy_drop: float | None = DEFAULT_MAX_ACCURACY_DROP
    min_fidelity: float | None = DEFAULT_MIN_FIDELITY

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BudgetError(f"budget {f.name} must be a number, got {value!r}")
            if value < 0 or (value == 0 and f.name != "max_accuracy_drop"):
                raise BudgetError(f"budget {f.name} must be positive, got {value}")
        if self.min_fidelity is not None and self.min_fidelity > 1:
            raise BudgetError(f"budget min_fidelity is a fraction in (0, 1], got {self.min_fidelity}")

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: Any) -> "Budgets":
        """The profile's budgets; overrides that are None (flag not given) keep the profile's value."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise BudgetError(f"unknown budget(s) {', '.join(sorted(unknown))}; valid: {', '.join(f.name for f in fields(cls))}")
        base = cls(
            ram_bytes=profile.memory.ram_budget_bytes,
            flash_bytes=profile.memory.flash_budget_bytes,
            latency_ms=float(profile.latency_budget_ms),
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)
