"""Shared digits fixtures for the compression tests: the bundled model, its real data splits, and the
fp32 .tflite baseline measured in LiteRT. Module/session scoped so each model is trained once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_TRAIN


@dataclasses.dataclass(frozen=True)
class Digits:
    model: object  # LoadedModel
    calibration: object  # Dataset, x only
    train: object  # Dataset, x and y
    train_unlabelled: object  # Dataset, x only (label-free fine-tuning)
    eval: object  # Dataset, x and y
    fp32_tflite: bytes
    fp32_accuracy: float  # points, executed in LiteRT

    def data(self, labelled: bool = False):
        from edge_sdk.techniques.base import TechniqueData

        train = self.train if labelled else self.train_unlabelled
        return TechniqueData(train=train, calibration=self.calibration, teacher=self.model, eval=self.eval)


@pytest.fixture(scope="session")
def digits(digits_loaded) -> Digits:
    from edge_sdk.frameworks.keras.techniques import measure
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import Dataset, load_dataset

    specs = digits_loaded.inputs
    train = load_dataset(DIGITS_TRAIN, specs, purpose="training")
    evaluation = load_dataset(DIGITS_EVAL, specs, purpose="eval")
    fp32, _ = convert_to_tflite(digits_loaded.handle, QuantSpec("float32"))
    return Digits(
        model=digits_loaded,
        calibration=load_dataset(DIGITS_CALIBRATION, specs),
        train=train,
        train_unlabelled=Dataset(train.inputs, None, train.source),
        eval=evaluation,
        fp32_tflite=fp32,
        fp32_accuracy=measure.tflite_accuracy(fp32, evaluation),
    )


def int8_tflite(handle, digits: Digits) -> bytes:
    """Full-integer int8 export (int8 I/O), the artifact the acceptance criteria measure."""
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite

    flatbuffer, _ = convert_to_tflite(handle, QuantSpec("int8", "int8"), digits.calibration)
    return flatbuffer


QUIET = {"progress": False}


def tiny_keras3_cnn():
    """A small Keras 3 functional CNN trained on digits (~95%); the tests load it through the bridge."""
    from edge_sdk import deps

    keras = deps.keras3()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu", name="pointwise")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="k3_digits")
    with np.load(DIGITS_TRAIN) as npz:
        x_train, y_train = npz["x"], npz["y"]
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)  # long enough for BN statistics to settle
    return model
