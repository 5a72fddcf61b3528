"""Small architectures for checking the size and arena estimates against measured artifacts: a plain
CNN (the digits example), a depthwise/separable CNN with residual Adds, an MLP, and a wide dense
autoencoder (small activations, wide layers: the shape where the arena is set by TFLM's temporary
allocations, not by the activations). Built with
fixed seeds on the digits input shape and trained for two epochs on the real digits data (trained
weights matter: the converter merges identical constants, e.g. the all-zero biases of a fresh model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TRAIN = Path(__file__).resolve().parents[2] / "calibration_data" / "digits_train.npz"


def _train(model, keras):
    with np.load(TRAIN) as d:
        x, y = d["x"].astype("float32"), d["y"]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False)
    return model


def separable_residual(keras):
    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = L.Input((8, 8, 1), name="image")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inp)
    for i in range(2):
        y = L.DepthwiseConv2D(3, padding="same", name=f"dw{i}")(x)
        y = L.BatchNormalization(name=f"bn{i}")(y)
        y = L.ReLU(name=f"relu{i}")(y)
        y = L.Conv2D(16, 1, name=f"pw{i}")(y)
        x = L.Add(name=f"add{i}")([x, y])
    x = L.SeparableConv2D(32, 3, padding="same", activation="relu", name="sep")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="probs")(x)
    return _train(keras.Model(inp, out, name="sep_res"), keras)


def mlp(keras):
    keras.utils.set_random_seed(2)
    L = keras.layers
    inp = L.Input((8, 8, 1), name="image")
    x = L.Flatten(name="flat")(inp)
    x = L.Dense(128, activation="relu", name="fc1")(x)
    x = L.Dropout(0.2, name="drop")(x)
    x = L.Dense(64, activation="relu", name="fc2")(x)
    out = L.Dense(10, activation="softmax", name="probs")(x)
    return _train(keras.Model(inp, out, name="mlp"), keras)


def wide_autoencoder(keras):
    """The MLPerf Tiny anomaly-detection shape, smaller: Dense + BatchNorm + ReLU blocks through a
    narrow code, its widest layer last (there 640 wide; here 256, the input tiled four times)."""
    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = L.Input((8, 8, 1), name="image")
    x = L.Flatten(name="flat")(inp)
    for i, width in enumerate((64, 64, 8, 64, 64)):
        x = L.ReLU(name=f"relu{i}")(L.BatchNormalization(name=f"bn{i}")(L.Dense(width, name=f"fc{i}")(x)))
    model = keras.Model(inp, L.Dense(256, name="reconstruction")(x), name="wide_ae")
    with np.load(TRAIN) as d:
        x_train = d["x"].astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x_train, np.tile(x_train.reshape(len(x_train), -1), 4), epochs=2, batch_size=64, verbose=0, shuffle=False)
    return model
