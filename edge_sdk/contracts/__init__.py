"""Typed contracts between the stages: what each stage hands the next, frozen once made.

    budgets.py   Budgets (limits) and BudgetCheck (one value against one limit)
    task.py      Task (one candidate, picklable, self-contained) and TaskResult / TaskError
    search.py    Attempt (a rung's verdict) and SearchResult (one target's search)

`FrozenModel` is the base of every validated configuration model (profiles, edge-sdk.yaml, budgets):
immutable, and an unknown key is an error, so a typo never falls back to a default silently.
"""

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
