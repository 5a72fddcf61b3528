"""The limits a model must meet on a target, and one check of a value against one limit.

`Budgets` is both what a user overrides (flags, edge-sdk.yaml: unset fields are None) and, after
`resolved(profile)`, what a build checks: RAM, flash and latency default to the profile's
`memory.ram_budget_bytes`, `memory.flash_budget_bytes` and `latency_budget_ms`; quality to at most a
1-point accuracy drop (with labels) or, without labels, fidelity to the original model by each output's
task metric (edge_sdk/fidelity.py: top-1 agreement >= 0.99, min cosine >= 0.98, SQNR >= 20 dB, ...).

`BudgetCheck` is the one comparison `inspect --target`, `plan` and `build` all use. A check whose value
was never measured where a measurement is required (fidelity) is `not_measured`, never ok.

A latency estimate from a calibrated unit has an error band (planner/estimate.py); `latency_check`
says which value an unmeasured latency is checked on: `lower` (default: missed only when even the
band's lower end misses, so a rung the device might well run in time is still built and measured),
`estimate` (the point estimate) or `upper` (met only when the band's upper end meets it: a release gate
that must not trust optimism). Without a band, or with a measurement, the choice does not matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge_sdk.errors import BudgetError

DEFAULT_MAX_ACCURACY_DROP = 1.0  # points
BUDGET_KEYS = ("ram_bytes", "flash_bytes", "latency_ms", "max_accuracy_drop", "min_fidelity", "latency_check")
LatencyCheck = Literal["lower", "estimate", "upper"]


class Budgets(BaseModel):
    """Budget values; byte sizes accept 262144, '256KiB', '1.5MB'. `parse`/`from_profile` raise BudgetError."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    ram_bytes: Optional[int] = Field(None, gt=0)
    flash_bytes: Optional[int] = Field(None, gt=0)
    latency_ms: Optional[float] = Field(None, gt=0)
    max_accuracy_drop: Optional[float] = Field(None, ge=0, le=100)
    min_fidelity: Optional[dict[str, float]] = None  # metric -> minimum (edge_sdk.fidelity); a bare number
    # sets the agreement metrics (top-1, min cosine, ...)
    latency_check: Optional[LatencyCheck] = None  # which end of an estimate's band latency is checked on; None = lower

    @classmethod
    def parse(cls, **values: Any) -> "Budgets":
        """Budgets from loose values (flags, API arguments); any bad value is one BudgetError line."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "budgets"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown budget; valid: {', '.join(BUDGET_KEYS)}"
            raise BudgetError(f"budget {field}: {msg} (got {err.get('input')!r})") from None

    @field_validator("ram_bytes", "flash_bytes", mode="before")
    @classmethod
    def _sizes(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str):
            from edge_sdk.units import parse_bytes

            try:
                return parse_bytes(value, info.field_name)
            except BudgetError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("min_fidelity", mode="before")
    @classmethod
    def _fidelity(cls, value: Any) -> Any:
        from edge_sdk.fidelity import parse_min_fidelity

        try:
            return parse_min_fidelity(value)
        except BudgetError as exc:
            raise ValueError(str(exc)) from None

    def overrides(self) -> dict[str, Any]:
        """The fields that are set (what a flag or a project file overrides)."""
        return {k: getattr(self, k) for k in BUDGET_KEYS if getattr(self, k) is not None}

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> "Budgets":
        """The profile's budgets and the quality defaults; overrides that are None keep those values."""
        base = {
            "ram_bytes": profile.memory.ram_budget_bytes,
            "flash_bytes": profile.memory.flash_budget_bytes,
            "latency_ms": float(profile.latency_budget_ms),
            "max_accuracy_drop": DEFAULT_MAX_ACCURACY_DROP,
        }
        budgets = cls.parse(**{**base, **{k: v for k, v in overrides.items() if v is not None}})
        from edge_sdk.fidelity import DEFAULT_MIN_FIDELITY

        # the user's thresholds replace the defaults metric by metric; the others keep theirs
        return budgets.model_copy(update={"min_fidelity": {**DEFAULT_MIN_FIDELITY, **(budgets.min_fidelity or {})}})

    def to_dict(self) -> dict:
        return self.model_dump()


@dataclass(frozen=True)
class BudgetCheck:
    """One value (measured, else estimated) against one limit."""

    name: str  # flash_bytes | ram_bytes | latency_ms | accuracy | fidelity
    limit: float | None
    estimate: float | None = None
    measured: float | None = None
    unit: str | None = None  # the compute unit, for latency rows of the fit check
    higher_is_better: bool = False  # fidelity: at least the limit; everything else: at most
    needs_measurement: bool = False  # an estimate cannot meet this budget (quality)
    detail: str = ""  # which output and metric a fidelity check is about
    band: tuple[float, float] | None = None  # the estimate's error band (latency on a calibrated unit)
    check_on: LatencyCheck = "lower"  # which end of the band an unmeasured value is checked on

    @property
    def basis(self) -> str | None:
        """What `value` is: measured | band lower end | band upper end | estimate (None: no value)."""
        if self.measured is not None:
            return "measured"
        if self.needs_measurement or self.estimate is None:
            return None
        if self.band is not None and self.check_on != "estimate":
            return f"band {self.check_on} end"
        return "estimate"

    @property
    def value(self) -> float | None:
        if self.basis in ("band lower end", "band upper end"):
            return self.band[0] if self.check_on == "lower" else self.band[1]  # type: ignore[index]
        return self.measured if self.basis == "measured" else (None if self.needs_measurement else self.estimate)

    @property
    def status(self) -> str:
        """ok | over | not_measured | unlimited"""
        if self.limit is None:
            return "unlimited"
        if self.value is None:
            return "not_measured" if self.needs_measurement else "unlimited"
        ok = self.value >= self.limit if self.higher_is_better else self.value <= self.limit
        return "ok" if ok else "over"

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unlimited")

    @property
    def over_by(self) -> float | None:
        if self.status != "over":
            return None
        return (self.limit - self.value) if self.higher_is_better else (self.value - self.limit)  # type: ignore[operator]

    @property
    def over_by_ratio(self) -> float:
        """Relative miss (0 when met; 1 when a required measurement is missing)."""
        if self.status == "not_measured":
            return 1.0
        miss = self.over_by
        if miss is None:
            return 0.0
        return miss / self.limit if self.limit else math.inf

    @property
    def over_by_pct(self) -> float | None:
        ratio = self.over_by_ratio
        return round(100 * ratio, 1) if self.status == "over" and math.isfinite(ratio) else None

    def describe(self) -> str:
        """What a user reads in a rejection reason."""
        if self.status == "not_measured":
            return (f"{self.name} {self.detail} not measured (the artifact could not be run here), so the minimum "
                    f"{self.limit} is not shown to hold").replace("  ", " ")
        if self.name == "fidelity":
            return f"fidelity {self.detail} {self.value:.4f} below the minimum {self.limit}".replace("  ", " ")
        if self.name == "accuracy":
            return f"accuracy drop {self.value:.2f} points over the maximum {self.limit}"
        kind = "measured" if self.measured is not None else "estimated"
        band = ""
        if self.basis not in ("measured", "estimate"):
            band = f" ({self.basis} of {_fmt(self.band[0])}-{_fmt(self.band[1])}, point {_fmt(self.estimate)})"  # type: ignore[index]
        pct = f" ({self.over_by_ratio * 100:.0f}% over)" if math.isfinite(self.over_by_ratio) else ""
        return f"{self.name} {kind} {_fmt(self.value)}{band} > limit {_fmt(self.limit)}{pct}"

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "limit": self.limit, "estimate": self.estimate, "measured": self.measured,
                               "ok": self.ok, "status": self.status}
        if self.basis is not None:
            out["basis"] = self.basis
        if self.band is not None:
            out["band"] = list(self.band)
        if self.unit is not None:
            out["unit"] = self.unit
        if self.detail:
            out["detail"] = self.detail
        if self.status == "over":
            out.update(over_by=self.over_by, over_by_ratio=self.over_by_ratio, over_by_pct=self.over_by_pct)
        return out


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
