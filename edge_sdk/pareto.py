"""The (size, quality) Pareto front: smaller is better on size, higher is better on quality.

One definition for the search (which candidates to keep) and the report (which points to mark).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def pareto_front(items: Sequence[T], size: Callable[[T], float], quality: Callable[[T], float]) -> list[T]:
    """Items no other item beats on both size and quality (ties on both keep every item)."""
    points = [(size(i), quality(i)) for i in items]
    front = []
    for k, (s, q) in enumerate(points):
        beaten = any(os <= s and oq >= q and (os < s or oq > q) for j, (os, oq) in enumerate(points) if j != k)
        if not beaten:
            front.append(items[k])
    return front
