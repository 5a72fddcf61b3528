"""Calibration / training / eval data: loading and validation against the model's inputs.

Accepted forms:
- `.npz` with `x` (single-input models) or one array per model input named by input name, plus an
  optional `y` (labels: class indices, or one-hot which is reduced to indices);
- `module:function` returning an iterable of batches (`x`, `(x, y)` or `{name: x, ..., "y": y}`);
- in memory: a numpy array, a dict of arrays, or an existing `Dataset`.

Every problem is found before any work starts, and named: wrong shape, dtype or input name, NaN/Inf,
an empty set. Fewer samples than asked is only a warning, with the count.
"""

from __future__ import annotations

import importlib
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from edge_sdk.errors import DataError
from edge_sdk.contracts.model import TensorSpec


@dataclass(frozen=True, eq=False)
class Dataset:
    inputs: dict[str, np.ndarray]  # input name -> (N, *sample_shape), in the model's input order
    labels: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    def head(self, n: int) -> "Dataset":
        return Dataset(
            {k: v[:n] for k, v in self.inputs.items()},
            None if self.labels is None else self.labels[:n],
            self.source,
        )

    def as_model_input(self) -> np.ndarray | list[np.ndarray]:
        """One array for single-input models, a list in input order otherwise (what Keras predict takes)."""
        arrays = list(self.inputs.values())
        return arrays[0] if len(arrays) == 1 else arrays

    def batches(self, batch_size: int) -> Iterable[list[np.ndarray]]:
        """Per-sample-aligned batches in input order (for calibration generators)."""
        for start in range(0, len(self), batch_size):
            yield [v[start : start + batch_size] for v in self.inputs.values()]

    def fingerprint(self) -> str:
        """Content hash (for the build cache)."""
        import hashlib

        h = hashlib.sha256()
        for name, arr in self.inputs.items():
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        if self.labels is not None:
            h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Input arrays by name and the labels (`y`) of a .npz, never unpickling; DataError naming the file."""
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz (not a zip archive); save data with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path}: holds pickled objects, which are never loaded; save plain numeric arrays") from None
        raise DataError(f"{path}: not a readable .npz ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, ...
        raise DataError(f"{path}: not a readable .npz ({exc.__class__.__name__}: {exc})") from None
    labels = arrays.pop("y", None)
    return arrays, labels


def _from_callable(spec: str) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    module_name, _, func_name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"data source {spec!r}: cannot import {func_name} from {module_name} ({exc})") from None
    xs: dict[str, list[np.ndarray]] = {}
    ys: list[np.ndarray] = []
    batches = func()
    if isinstance(batches, (str, bytes, Mapping)) or not hasattr(batches, "__iter__"):
        raise DataError(f"data source {spec!r} returned a {type(batches).__name__}; it must return or yield batches "
                        "(arrays, (x, y) pairs or {input_name: array} dicts); see README 'Data formats'")
    for batch in batches:
        if isinstance(batch, Mapping):
            batch = dict(batch)
            y = batch.pop("y", None)
            x = batch
        elif isinstance(batch, tuple) and len(batch) == 2:
            x, y = batch
        else:
            x, y = batch, None
        for name, arr in (x.items() if isinstance(x, Mapping) else [("x", x)]):
            xs.setdefault(name, []).append(np.asarray(arr))
        if y is not None:
            ys.append(np.asarray(y))
    if any(a.ndim == 0 for v in xs.values() for a in v):
        raise DataError(f"data source {spec!r} yielded a scalar, not a batch of samples; yield arrays of shape (batch, ...)")
    arrays = {k: np.concatenate(v) for k, v in xs.items()}
    return arrays, (np.concatenate(ys) if ys else None)


def _match_inputs(arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...], source: str) -> dict[str, np.ndarray]:
    names = [s.name for s in specs]
    if len(specs) == 1 and set(arrays) == {"x"}:
        return {names[0]: arrays["x"]}
    if len(specs) == 1 and len(arrays) == 1:
        only = next(iter(arrays))
        if only in names:
            return {names[0]: arrays[only]}
    missing = [n for n in names if n not in arrays]
    if missing:
        expected = "'x'" if len(specs) == 1 else "one array per input"
        raise DataError(
            f"{source}: no array for model input(s) {', '.join(missing)}; expected {expected} "
            f"named {', '.join(names)} (found: {', '.join(sorted(arrays)) or 'nothing'})"
        )
    return {n: arrays[n] for n in names}


def _check_array(name: str, arr: np.ndarray, spec: TensorSpec, source: str) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{source}: input {name!r} has dtype {arr.dtype}; expected numeric {spec.dtype}")
    expected = spec.shape[1:]
    got = arr.shape[1:]
    if arr.ndim != len(spec.shape) or any(e is not None and e != g for e, g in zip(expected, got)):
        want = "(N, " + ", ".join("?" if d is None else str(d) for d in expected) + ")"
        raise DataError(f"{source}: input {name!r} has shape {arr.shape}; the model expects {want}")
    for dim, size in enumerate(arr.shape[1:], start=1):
        bounds = spec.range_of(dim)
        if bounds and not (bounds[0] <= size and (bounds[1] is None or size <= bounds[1])):
            accepted = f"{bounds[0]}..{bounds[1]}" if bounds[1] is not None else f"at least {bounds[0]}"
            raise DataError(f"{source}: input {name!r} has size {size} in dim {dim}; the model was exported for "
                            f"{accepted} there (pad or truncate to that range, or export with a wider torch.export Dim)")
    target = np.dtype(spec.dtype)
    if target.kind == "f":
        arr = arr.astype(target, copy=False)
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise DataError(f"{source}: input {name!r} holds {bad} NaN/Inf values; clean or drop those samples")
    elif arr.dtype.kind == "f":
        raise DataError(f"{source}: input {name!r} is {arr.dtype} but the model takes {spec.dtype}")
    return arr


def _normalise_labels(labels: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1)
    if len(labels) != n:
        raise DataError(f"{source}: 'y' has {len(labels)} labels for {n} samples")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise DataError(f"{source}: 'y' holds NaN/Inf values")
    if labels.dtype.kind not in "iub" and not (labels.dtype.kind == "f" and (labels == np.round(labels)).all()):
        bad = labels[labels != np.round(labels)] if labels.dtype.kind == "f" else labels
        raise DataError(f"{source}: 'y' must hold class indices (integers), not {bad.flat[0]!r} ({labels.dtype}); "
                        "regression targets are not labels: leave 'y' out and fidelity to the model is measured")
    if (labels < 0).any():
        raise DataError(f"{source}: 'y' holds a negative class index ({int(labels.min())}); classes count from 0")
    return labels.astype(np.int64)


def load_dataset(
    data: Any,
    input_specs: tuple[TensorSpec, ...],
    *,
    max_samples: int | None = None,
    purpose: str = "calibration",
) -> Dataset:
    """Load and validate data for a model with `input_specs`, keeping at most `max_samples` samples."""
    if isinstance(data, Dataset):
        arrays, labels, source = dict(data.inputs), data.labels, data.source
    elif isinstance(data, (str, Path)) and (str(data).endswith(".npz") or Path(data).exists()):
        source = str(data)
        arrays, labels = read_npz(Path(data))
    elif isinstance(data, str) and ":" in data:
        source = data
        arrays, labels = _from_callable(data)
    elif isinstance(data, np.ndarray):
        source, arrays, labels = f"in-memory {purpose} array", {"x": data}, None
    elif isinstance(data, Mapping):
        source = f"in-memory {purpose} data"
        arrays = {k: np.asarray(v) for k, v in data.items() if k != "y"}
        labels = data.get("y")
    else:
        raise DataError(
            f"{purpose} data {data!r}: expected a .npz path, 'module:function', or an array; see README 'Data formats'"
        )
    arrays = _match_inputs(arrays, input_specs, source)
    sizes = {len(a) for a in arrays.values()}
    if sizes == {0}:
        raise DataError(f"{source}: the {purpose} set is empty; give at least one sample")
    if len(sizes) > 1:
        raise DataError(f"{source}: inputs have different sample counts {sorted(sizes)}")
    spec_by_name = {s.name: s for s in input_specs}
    arrays = {n: _check_array(n, a, spec_by_name[n], source) for n, a in arrays.items()}
    n = sizes.pop()
    labels = _normalise_labels(labels, n, source)
    if max_samples is not None:
        if n < max_samples:
            warnings.warn(f"{source}: asked for {max_samples} {purpose} samples, only {n} available; using {n}")
        else:
            arrays = {k: v[:max_samples] for k, v in arrays.items()}
            labels = None if labels is None else labels[:max_samples]
    return Dataset(arrays, labels, source)
