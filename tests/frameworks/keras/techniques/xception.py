"""A mini-Xception-style emotion CNN (the model issue 12 measured its defects on), built in tf_keras
with seeded, trained-like weights: separable convs, BN, residual adds with a strided 1x1 conv shortcut,
and a Conv2D(7) -> GlobalAveragePooling -> Softmax head, on 48x48x1 input (58,423 params).

Layers carry the names Keras gives a stock model in a fresh process (`conv2d`, `conv2d_1`, ...,
`separable_conv2d`, `batch_normalization_3`), as a pretrained model file has them: TFMOT's layout
transform names the layers it creates the same way, which is what broke QAT (see qat.py).
`trained_mini_xception` fits it for a few epochs on a synthetic class-conditional task (class k is a
grating at angle k*pi/7 plus noise), so its outputs are not degenerate (real per-class ranges for
QAT, real logits for distillation), and saves it with its data for a child process to load.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

CLASSES = 7
SIZE = 48


def mini_xception(seed: int = 0, widths: tuple[int, ...] = (16, 32, 64, 128)):
    from edge_sdk import deps

    tfk = deps.tf_keras()
    layers = tfk.layers
    tfk.utils.set_random_seed(seed)
    counts: collections.Counter = collections.Counter()

    def auto(prefix: str) -> str:  # Keras's own default name for the n-th layer of a class
        counts[prefix] += 1
        return prefix if counts[prefix] == 1 else f"{prefix}_{counts[prefix] - 1}"

    def conv(x, filters, kernel, **kw):
        return layers.Conv2D(filters, kernel, name=auto("conv2d"), **kw)(x)

    def bn(x):  # momentum 0.9: the moving statistics settle within a short fit
        return layers.BatchNormalization(momentum=0.9, name=auto("batch_normalization"))(x)

    def relu(x):
        return layers.Activation("relu", name=auto("activation"))(x)

    def sep(x, filters):
        return layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=auto("separable_conv2d"))(x)

    inputs = tfk.Input((SIZE, SIZE, 1), name="input_1")
    x = relu(bn(conv(inputs, 8, 3, use_bias=False)))
    x = relu(bn(conv(x, 8, 3, use_bias=False)))
    for width in widths:
        residual = bn(conv(x, width, 1, strides=2, padding="same", use_bias=False))
        x = bn(sep(relu(bn(sep(x, width))), width))
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=auto("max_pooling2d"))(x)
        x = layers.Add(name=auto("add"))([x, residual])
    x = conv(x, CLASSES, 3, padding="same")
    x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return tfk.Model(inputs, outputs, name="mini_xception")


def synthetic_faces(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): 48x48x1 float32 images in [0, 1]; class k a noisy grating at angle k*pi/7."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    grid = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    angles = y * np.pi / CLASSES + rng.normal(0, 0.2, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    proj = np.cos(angles)[:, None, None] * grid[0] + np.sin(angles)[:, None, None] * grid[1]
    x = 0.5 + 0.2 * np.sin(2 * np.pi * 3 * proj + phase[:, None, None])
    x = x + rng.normal(0, 0.4, x.shape)
    return np.clip(x, 0, 1).astype(np.float32)[..., None], y.astype(np.int64)


def trained_mini_xception(directory: Path, *, epochs: int = 3, n: int = 768, seed: int = 0) -> Path:
    """Fit the model on synthetic_faces and save it in `directory` with train.npz / eval.npz."""
    from edge_sdk import deps

    tfk = deps.tf_keras()
    model = mini_xception(seed)
    x, y = synthetic_faces(n, seed)
    model.compile(optimizer=tfk.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "mini_xception.keras"
    model.save(path)
    np.savez(directory / "train.npz", x=x, y=y)
    ex, ey = synthetic_faces(128, seed + 1)
    np.savez(directory / "eval.npz", x=ex, y=ey)
    return path


def qat_in_this_process(directory: Path, train_samples: int, epochs: int) -> dict:
    """Train the model, then (1) TFMOT's own quantize_model and (2) edge_sdk's qat on `train_samples`
    unlabelled samples, converted to int8 and run on LiteRT. Meant for a child process: a native
    crash must not take the test runner with it. Returns what happened, as JSON-able values."""
    from edge_sdk import deps, load_dataset, load_model
    from edge_sdk.data import Dataset
    from edge_sdk.frameworks.keras.techniques import measure
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.techniques.base import TechniqueData
    from edge_sdk.techniques.dispatch import apply_step

    path = trained_mini_xception(directory)
    model = load_model(path)
    found: dict = {}
    try:  # a fresh process: Keras's name counter is where a stock model's own names came from
        deps.tfmot().quantization.keras.quantize_model(model.handle)
        found["tfmot_quantize_model"] = "ok"
    except ValueError as exc:
        found["tfmot_quantize_model"] = str(exc).strip().splitlines()[-1]
    full = load_dataset(directory / "train.npz", model.inputs)
    train = Dataset({k: v[:train_samples] for k, v in full.inputs.items()}, None, "train")
    evaluation = load_dataset(directory / "eval.npz", model.inputs)
    data = TechniqueData(train=train, calibration=full, teacher=model, eval=evaluation)
    quantized, record = apply_step("qat", model, data, {"epochs": epochs, "progress": False})
    flatbuffer, _ = convert_to_tflite(quantized.handle, QuantSpec("int8", "int8"), full)
    reference = model.handle.predict(evaluation.as_model_input(), verbose=0).argmax(-1)
    found.update(
        {k: record.metrics.get(k) for k in ("float_layers", "split_separable", "even_batches", "epochs_run")},
        int8_bytes=len(flatbuffer),
        int8_agreement=float((measure.tflite_predict(flatbuffer, evaluation).argmax(-1) == reference).mean()),
    )
    return found


if __name__ == "__main__":  # python -m tests.frameworks.keras.techniques.xception DIR TRAIN_SAMPLES EPOCHS
    import json
    import sys

    print("RESULT " + json.dumps(qat_in_this_process(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
