"""Data loading and validation: every mistake is found before work starts and named."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from edge_sdk.data import load_dataset
from edge_sdk.errors import DataError
from edge_sdk.contracts.model import TensorSpec

IMAGE = (TensorSpec("image", (None, 8, 8, 1)),)
TWO_INPUTS = (TensorSpec("a", (None, 4)), TensorSpec("b", (None, 2)))


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_digits_eval_loads_with_input_name_mapped(digits_paths):
    ds = load_dataset(digits_paths["eval"], IMAGE, purpose="eval")
    assert list(ds.inputs) == ["image"]
    assert ds.inputs["image"].shape == (360, 8, 8, 1) and ds.inputs["image"].dtype == np.float32
    assert ds.has_labels and ds.labels.shape == (360,)


def test_wrong_shape_names_input_and_expected_shape(tmp_path):
    path = _npz(tmp_path, x=np.zeros((5, 28, 28, 1), np.float32))
    with pytest.raises(DataError, match=r"input 'image' has shape \(5, 28, 28, 1\); the model expects \(N, 8, 8, 1\)"):
        load_dataset(path, IMAGE)


def test_wrong_input_name_lists_expected_and_found(tmp_path):
    path = _npz(tmp_path, a=np.zeros((3, 4), np.float32), c=np.zeros((3, 2), np.float32))
    with pytest.raises(DataError, match=r"no array for model input\(s\) b.*named a, b \(found: a, c\)"):
        load_dataset(path, TWO_INPUTS)


def test_multi_input_by_name(tmp_path):
    path = _npz(tmp_path, a=np.ones((3, 4), np.float32), b=np.zeros((3, 2), np.float32), y=np.eye(3)[[0, 1, 2]])
    ds = load_dataset(path, TWO_INPUTS)
    assert list(ds.inputs) == ["a", "b"] and len(ds) == 3
    assert ds.labels.tolist() == [0, 1, 2]  # one-hot reduced to class indices


def test_nan_and_inf_are_refused_with_count(tmp_path):
    x = np.zeros((4, 8, 8, 1), np.float32)
    x[0, 0, 0, 0] = np.nan
    x[1, 0, 0, 0] = np.inf
    with pytest.raises(DataError, match="holds 2 NaN/Inf values"):
        load_dataset(_npz(tmp_path, x=x), IMAGE)


def test_empty_set_is_refused(tmp_path):
    with pytest.raises(DataError, match="set is empty"):
        load_dataset(_npz(tmp_path, x=np.zeros((0, 8, 8, 1), np.float32)), IMAGE)


def test_non_numeric_dtype_is_refused(tmp_path):
    with pytest.raises(DataError, match="dtype <U1"):
        load_dataset(np.full((2, 8, 8, 1), "a"), IMAGE)


def test_pickled_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="pickled objects, which are never loaded"):
        load_dataset(path, IMAGE)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nope.npz", IMAGE)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(bad, IMAGE)


def test_fewer_samples_than_asked_is_a_warning_with_the_count(tmp_path):
    path = _npz(tmp_path, x=np.zeros((7, 8, 8, 1), np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(path, IMAGE, max_samples=200)
    assert len(ds) == 7
    assert any("asked for 200 calibration samples, only 7 available" in str(w.message) for w in caught)


def test_max_samples_bounds_the_set(tmp_path):
    ds = load_dataset(_npz(tmp_path, x=np.zeros((50, 8, 8, 1), np.float32), y=np.arange(50)), IMAGE, max_samples=20)
    assert len(ds) == 20 and len(ds.labels) == 20


def test_labels_count_must_match(tmp_path):
    with pytest.raises(DataError, match="'y' has 3 labels for 5 samples"):
        load_dataset(_npz(tmp_path, x=np.zeros((5, 8, 8, 1), np.float32), y=np.arange(3)), IMAGE)


def test_module_function_source(tmp_path, monkeypatch):
    (tmp_path / "mydata.py").write_text(
        "import numpy as np\n"
        "def batches():\n"
        "    for i in range(3):\n"
        "        yield np.full((2, 8, 8, 1), i, np.float32), np.array([i, i])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ds = load_dataset("mydata:batches", IMAGE)
    assert len(ds) == 6 and ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    sys.modules.pop("mydata", None)


def test_unimportable_function_is_named():
    with pytest.raises(DataError, match="cannot import nothere from edge_sdk"):
        load_dataset("edge_sdk:nothere", IMAGE)


def test_fingerprint_changes_with_content():
    a = load_dataset(np.zeros((2, 8, 8, 1), np.float32), IMAGE)
    b = load_dataset(np.ones((2, 8, 8, 1), np.float32), IMAGE)
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == load_dataset(np.zeros((2, 8, 8, 1), np.float32), IMAGE).fingerprint()
