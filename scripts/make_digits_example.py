"""Regenerate the bundled digits example: a small CNN trained on scikit-learn's digits (real 8x8 scans
shipped inside scikit-learn, no download), plus its calibration / train / eval splits.

    python scripts/make_digits_example.py [--seed 0] [--epochs 40]

Writes (deterministically for a seed):
    examples/digits/model.keras              tf_keras model, softmax over 10 classes
    calibration_data/digits_calibration.npz  x only: 300 unlabeled training images (the usual case)
    calibration_data/digits_train.npz        x, y: the training split (for labelled fine-tuning)
    calibration_data/digits_eval.npz         x, y: 360 held-out images, never trained on
Images are float32 in [0, 1], shape (N, 8, 8, 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_splits(seed: int) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_eval = 360
    return {"x_train": x[n_eval:], "y_train": y[n_eval:], "x_eval": x[:n_eval], "y_eval": y[:n_eval]}


def build_model(tfk, width: float = 1.0):
    L = tfk.layers
    w = lambda n: max(1, int(round(n * width)))  # noqa: E731
    return tfk.Sequential(
        [
            L.Input((8, 8, 1), name="image"),
            L.Conv2D(w(16), 3, padding="same", name="conv1"),
            L.BatchNormalization(name="bn1"),
            L.ReLU(name="relu1"),
            L.Conv2D(w(32), 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(w(64), 3, padding="same", activation="relu", name="conv3"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(w(64), activation="relu", name="fc1"),
            L.Dropout(0.2, name="dropout"),
            L.Dense(10, activation="softmax", name="probs"),
        ],
        name="digits_cnn",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    from edge_sdk import deps

    tf = deps.tensorflow()
    tfk = deps.tf_keras()
    tfk.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    s = load_splits(args.seed)
    model = build_model(tfk)
    model.compile(optimizer=tfk.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(s["x_train"], s["y_train"], epochs=args.epochs, batch_size=32, shuffle=True, verbose=0)
    _, acc = model.evaluate(s["x_eval"], s["y_eval"], verbose=0)

    (ROOT / "examples/digits").mkdir(parents=True, exist_ok=True)
    (ROOT / "calibration_data").mkdir(exist_ok=True)
    model.save(ROOT / "examples/digits/model.keras")
    np.savez_compressed(ROOT / "calibration_data/digits_calibration.npz", x=s["x_train"][:300])
    np.savez_compressed(ROOT / "calibration_data/digits_train.npz", x=s["x_train"], y=s["y_train"])
    np.savez_compressed(ROOT / "calibration_data/digits_eval.npz", x=s["x_eval"], y=s["y_eval"])
    print(f"eval accuracy {acc * 100:.2f}% on {len(s['x_eval'])} held-out images; params {model.count_params()}")


if __name__ == "__main__":
    main()
