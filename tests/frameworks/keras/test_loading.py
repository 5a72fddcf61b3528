"""Keras-family loading: tf_keras .keras/.h5/SavedModel, Keras 3 .keras (bridged), in-memory models, and
the one-line errors for bad files and code-carrying layers (refused unless trust_model=True)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from edge_sdk import deps, load_model
from edge_sdk.errors import ModelLoadError

tfk = deps.tf_keras()
tf = deps.tensorflow()
k3 = deps.keras3()
X = np.random.default_rng(0).uniform(0, 1, (4, 6, 6, 2)).astype("float32")


def _tf_keras_model(with_lambda: bool = False):
    inp = tfk.Input((6, 6, 2), name="image")
    x = tfk.layers.Conv2D(3, 3, padding="same", name="conv")(inp)
    x = tfk.layers.BatchNormalization(name="bn")(x)
    if with_lambda:
        x = tfk.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = tfk.layers.GlobalAveragePooling2D(name="gap")(x)
    model = tfk.Model(inp, tfk.layers.Dense(4, name="logits")(x))
    model.get_layer("bn").set_weights([np.full(3, 1.5), np.full(3, 0.1), np.full(3, 0.2), np.full(3, 2.0)])
    return model


def _keras3_model(with_lambda: bool = False):
    inp = k3.Input((6, 6, 2), name="image")
    x = k3.layers.Conv2D(3, 3, padding="same", name="conv")(inp)
    x = k3.layers.BatchNormalization(name="bn")(x)
    if with_lambda:
        x = k3.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = k3.layers.GlobalAveragePooling2D(name="gap")(x)
    model = k3.Model(inp, k3.layers.Dense(4, name="logits")(x))
    model.get_layer("bn").set_weights([np.full(3, 1.5), np.full(3, 0.1), np.full(3, 0.2), np.full(3, 2.0)])
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Each Keras format saved once for the module, with the reference outputs of the original model."""
    d = tmp_path_factory.mktemp("keras_files")
    tf_model, k3_model = _tf_keras_model(), _keras3_model()
    tf_model.save(d / "tf.keras")
    tf_model.save(d / "tf.h5")
    tf_model.save(d / "tf_savedmodel", save_format="tf")
    k3_model.save(d / "k3.keras")
    lam_tf = _tf_keras_model(with_lambda=True)
    lam_tf.save(d / "lambda_tf.keras")
    lam_tf.save(d / "lambda_tf.h5")
    lam_tf.save(d / "lambda_tf_savedmodel", save_format="tf")
    lam_k3 = _keras3_model(with_lambda=True)
    lam_k3.save(d / "lambda_k3.keras")
    refs = {
        "tf": tf_model.predict(X, verbose=0),
        "k3": np.asarray(k3_model.predict(X, verbose=0)),
        "lambda_tf": lam_tf.predict(X, verbose=0),
        "lambda_k3": np.asarray(lam_k3.predict(X, verbose=0)),
    }
    return d, refs


def _predict(loaded):
    return loaded.handle.predict(X, verbose=0)


@pytest.mark.parametrize("name,fmt", [("tf.keras", "tf_keras"), ("tf.h5", "h5"), ("tf_savedmodel", "savedmodel")])
def test_tf_keras_formats_load_and_predict_like_the_original(files, name, fmt):
    d, refs = files
    loaded = load_model(d / name)
    assert loaded.framework == "keras" and loaded.source_format == fmt and loaded.bridged_from is None
    assert [s.name for s in loaded.inputs] == ["image"]
    assert loaded.inputs[0].shape == (None, 6, 6, 2) and loaded.outputs[0].shape == (None, 4)
    np.testing.assert_allclose(_predict(loaded), refs["tf"], atol=1e-6)
    assert loaded.sha256 and len(loaded.sha256) == 64


def test_keras3_file_loads_through_the_bridge(files):
    d, refs = files
    loaded = load_model(d / "k3.keras")
    assert loaded.source_format == "keras3" and loaded.bridged_from == "keras3"
    assert type(loaded.handle).__module__.startswith("tf_keras")
    assert [s.name for s in loaded.inputs] == ["image"]
    assert [layer.name for layer in loaded.handle.layers] == ["image", "conv", "bn", "gap", "logits"]
    assert np.max(np.abs(_predict(loaded) - refs["k3"])) <= 1e-5


@pytest.mark.parametrize("factory,bridged", [(_tf_keras_model, None), (_keras3_model, "keras3")])
def test_in_memory_models(factory, bridged):
    model = factory()
    loaded = load_model(model)
    assert loaded.source_format == "memory" and loaded.bridged_from == bridged
    assert [s.name for s in loaded.inputs] == ["image"]
    assert np.max(np.abs(_predict(loaded) - np.asarray(model.predict(X, verbose=0)))) <= 1e-5


def test_multi_input_specs_are_named_by_input_layers():
    a, b = k3.Input((3,), name="accel"), k3.Input((5,), name="gyro")
    out = k3.layers.Dense(2)(k3.layers.Concatenate()([a, b]))
    loaded = load_model(k3.Model([a, b], out))
    assert [(s.name, s.shape) for s in loaded.inputs] == [("accel", (None, 3)), ("gyro", (None, 5))]


# ------------------------------------------------------------------------------------------ errors


def _load_error(path, **kwargs) -> str:
    with pytest.raises(ModelLoadError) as err:
        load_model(path, **kwargs)
    msg = str(err.value)
    assert "\n" not in msg and str(path.name) in msg
    return msg


def test_missing_file(tmp_path):
    assert "does not exist" in _load_error(tmp_path / "nope.keras")


def test_corrupt_keras_archive(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(np.random.default_rng(1).bytes(2048))
    assert "not a valid .keras archive" in _load_error(path)


def test_truncated_h5(files, tmp_path):
    d, _ = files
    data = (d / "tf.h5").read_bytes()
    path = tmp_path / "model.h5"
    path.write_bytes(data[: len(data) // 2])
    assert "corrupt" in _load_error(path).lower()


def test_unknown_suffix(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07")
    assert "unknown model format .onnx" in _load_error(path)


def test_pickled_torch_file_is_never_unpickled(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"state": [1, 2, 3]}))
    assert "torch.export.save" in _load_error(path)


def test_plain_saved_model_without_keras_metadata(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    path = tmp_path / "plain_savedmodel"
    tf.saved_model.save(module, str(path))
    assert "no Keras metadata" in _load_error(path)


@pytest.mark.parametrize("name", ["lambda_tf.keras", "lambda_tf.h5", "lambda_tf_savedmodel", "lambda_k3.keras"])
def test_lambda_layers_refused_without_trust_and_loaded_with_it(files, name):
    d, refs = files
    msg = _load_error(d / name)
    assert "double (Lambda)" in msg and "--trust-model" in msg
    loaded = load_model(d / name, trust_model=True)
    ref = refs["lambda_k3" if "k3" in name else "lambda_tf"]
    assert np.max(np.abs(_predict(loaded) - ref)) <= 1e-5
    assert (loaded.bridged_from == "keras3") == ("k3" in name)


def test_tf_op_layers_doing_tensor_math_need_no_trust(tmp_path):
    """tf_keras records `x * 0.5 + 1.0` as TFOpLambda layers naming TF math symbols: no code from the file."""
    inp = tfk.Input((3,), name="x")
    model = tfk.Model(inp, tfk.layers.Dense(2, name="d")(inp * 0.5 + 1.0))
    model.save(tmp_path / "ops.keras")
    loaded = load_model(tmp_path / "ops.keras")
    probe = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded.handle.predict(probe, verbose=0), model.predict(probe, verbose=0), atol=1e-6)


def test_a_config_declaring_more_weights_than_the_file_holds_is_refused_before_building(tmp_path):
    """An .h5 whose config says Dense(units=1e9) over 12 KB of weights: tf_keras would allocate 16 GB
    building it (out of memory, a traceback); refused as a corrupt file, naming the layer."""
    import json

    import h5py

    path = tmp_path / "edited.h5"
    _tf_keras_model().save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        next(l for l in config["config"]["layers"] if l["config"]["name"] == "logits")["config"]["units"] = 10**9
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ModelLoadError, match=r"layer 'logits' \(Dense\) declares at least 1,000,000,000 weights"):
        load_model(path)
