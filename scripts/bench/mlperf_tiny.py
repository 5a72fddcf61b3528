"""The four MLPerf Tiny reference architectures, as Keras models with random weights (latency and memory
depend on the architecture, not on what it learned), written from the benchmark's published model
descriptions (github.com/mlcommons/tiny, benchmark/training/*):

    ds-cnn-kws               keyword spotting: 49x10 MFCC, DS-CNN (a 10x4 conv, four depthwise-separable
                             blocks of 64 channels, average pool, 12-way dense)
    mobilenetv1-0.25-vww     visual wake words: 96x96x3, MobileNetV1 with width 0.25, 2 classes
    resnet8-cifar10          image classification: 32x32x3, ResNet-8 (three residual stages of 16/32/64)
    fc-autoencoder-toyadmos  anomaly detection: 640 -> 128 x4 -> 8 -> 128 x4 -> 640 dense autoencoder

Used by scripts/bench_estimates.py to compare estimates with the measurements MLPerf Tiny submitters
published for the same architectures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable


def _keras():
    from edge_sdk import deps

    return deps.tf_keras()


def ds_cnn_kws():
    keras = _keras()
    L = keras.layers
    inp = keras.Input((49, 10, 1), name="mfcc")
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, 1, padding="same", use_bias=False)(x)))
    x = L.Flatten()(L.AveragePooling2D(pool_size=(25, 5))(x))
    return keras.Model(inp, L.Dense(12, activation="softmax")(x), name="ds_cnn_kws")


def mobilenetv1_vww():
    keras = _keras()
    return keras.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=2)


def resnet8_cifar10():
    keras = _keras()
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="image")
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inp)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.ReLU()(L.BatchNormalization()(L.Conv2D(filters, 3, strides=stride, padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        shortcut = x if stride == 1 else L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.ReLU()(L.Add()([shortcut, y]))
    x = L.Flatten()(L.AveragePooling2D(pool_size=8)(x))
    return keras.Model(inp, L.Dense(10, activation="softmax")(x), name="resnet8_cifar10")


def fc_autoencoder_toyadmos():
    keras = _keras()
    L = keras.layers
    inp = keras.Input((640,), name="frames")
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = L.ReLU()(L.BatchNormalization()(L.Dense(units)(x)))
    return keras.Model(inp, L.Dense(640)(x), name="fc_autoencoder_toyadmos")


MODELS: dict[str, Callable] = {
    "ds-cnn-kws": ds_cnn_kws,
    "mobilenetv1-0.25-vww": mobilenetv1_vww,
    "resnet8-cifar10": resnet8_cifar10,
    "fc-autoencoder-toyadmos": fc_autoencoder_toyadmos,
}


def save(name: str, directory: Path, seed: int = 0) -> Path:
    """The model written as `directory/<name>.keras` (weights from `seed`)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    path = directory / f"{name}.keras"
    MODELS[name]().save(path)
    return path
