"""Hand-written Keras 3 models for architectures keras.applications lacks: an Xception-style
separable-conv net with a Conv -> GAP -> Softmax head, a 1-D conv keyword spotter on MFCC frames, a
GRU classifier, the MLPerf Tiny anomaly-detection dense autoencoder and a two-input model. Each is
fit a few epochs on zoo.common's structured synthetic tasks.
"""

from __future__ import annotations

from pathlib import Path

from zoo import common
from zoo.model import ZooModel


def _classifier(name: str, out_dir: Path, seed: int, model, train, cal, ev, *, classes: int, epochs: int, weights: str) -> ZooModel:
    """Fit `model` on train=(inputs, y), check spread on ev, write .keras + npz files."""
    xs, y = train
    loss = common.fit_keras(model, xs, y, epochs=epochs)
    pred = model.predict(ev[0], verbose=0)
    checks = common.check_spread(name, pred, classes, ev[1])
    path = out_dir / "model.keras"
    common.save_keras(model, path)
    names = [t.name for t in model.inputs]
    as_dict = lambda a: dict(zip(names, a)) if isinstance(a, (list, tuple)) else {"x": a}  # noqa: E731
    common.save_npz(out_dir / "calibration.npz", **as_dict(cal))
    common.save_npz(out_dir / "eval.npz", **as_dict(ev[0]))
    inputs = {n: [list(t.shape[1:]), "float32"] for n, t in zip(names, model.inputs)}
    return ZooModel(name, "keras", "classification", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs=inputs, outputs=[[[classes], "float32"]], weights=weights, checks=checks,
                    train={"epochs": epochs, "samples": len(y), "final_loss": round(loss, 4)})


def xception_sep(out_dir: Path, seed: int) -> ZooModel:
    """Entry-flow Xception blocks (SeparableConv2D + BN + residual 1x1 conv) at 48x48, head Conv 1x1 ->
    GlobalAveragePooling -> Softmax (no Dense)."""
    import keras
    from keras import layers as L

    common.seed_keras(seed)
    classes, shape = 8, (48, 48, 3)
    inp = keras.Input(shape, name="image")
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for filters in (32, 64, 96):
        res = L.BatchNormalization()(L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))
        x = L.ReLU()(x)
        x = L.BatchNormalization()(L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))
        x = L.ReLU()(x)
        x = L.BatchNormalization()(L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        x = L.Add()([x, res])
    x = L.ReLU()(x)
    x = L.Conv2D(classes, 1, padding="same", name="head_conv")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Softmax(name="probs")(x)
    model = keras.Model(inp, out, name="xception_sep")
    tr = common.image_task(600, shape, classes, seed, "train")
    cal, _ = common.image_task(300, shape, classes, seed, "calibration")
    ev = common.image_task(200, shape, classes, seed, "eval")
    return _classifier("k_xception_sep", out_dir, seed, model, tr, cal, ev, classes=classes, epochs=8,
                       weights="random init, fit 8 epochs on the image task")


def kws_conv1d(out_dir: Path, seed: int) -> ZooModel:
    """Keyword spotting on 49 frames x 10 MFCC coefficients (the MLPerf Tiny KWS input shape), 12
    keywords: Conv1D stack with BN, global average pooling, Dense softmax."""
    import keras
    from keras import layers as L

    common.seed_keras(seed)
    classes, steps, feats = 12, 49, 10
    inp = keras.Input((steps, feats), name="mfcc")
    x = inp
    for filters, stride in ((32, 1), (48, 2), (64, 1), (64, 2)):
        x = L.Conv1D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.GlobalAveragePooling1D()(x)
    out = L.Dense(classes, activation="softmax", name="keyword")(x)
    model = keras.Model(inp, out, name="kws_conv1d")
    tr = common.sequence_task(900, steps, feats, classes, seed, "train")
    cal, _ = common.sequence_task(300, steps, feats, classes, seed, "calibration")
    ev = common.sequence_task(240, steps, feats, classes, seed, "eval")
    return _classifier("k_kws_conv1d", out_dir, seed, model, tr, cal, ev, classes=classes, epochs=10,
                       weights="random init, fit 10 epochs on the MFCC-like sequence task")


def gru_classifier(out_dir: Path, seed: int) -> ZooModel:
    """A GRU(48) over 32 steps x 16 features, then Dense softmax over 6 classes."""
    import keras
    from keras import layers as L

    common.seed_keras(seed)
    classes, steps, feats = 6, 32, 16
    inp = keras.Input((steps, feats), name="sequence")
    x = L.GRU(48, name="gru")(inp)
    out = L.Dense(classes, activation="softmax", name="label")(x)
    model = keras.Model(inp, out, name="gru_classifier")
    tr = common.sequence_task(600, steps, feats, classes, seed, "train")
    cal, _ = common.sequence_task(300, steps, feats, classes, seed, "calibration")
    ev = common.sequence_task(180, steps, feats, classes, seed, "eval")
    return _classifier("k_gru", out_dir, seed, model, tr, cal, ev, classes=classes, epochs=10,
                       weights="random init, fit 10 epochs on the sequence task")


def two_input(out_dir: Path, seed: int) -> ZooModel:
    """Two named inputs, image (32x32x3) and meta (8,), fused by concatenation before the classifier.
    The meta vector carries part of the label (its first coordinates are a noisy class code)."""
    import keras
    import numpy as np
    from keras import layers as L

    common.seed_keras(seed)
    classes, shape = 6, (32, 32, 3)
    img = keras.Input(shape, name="image")
    meta = keras.Input((8,), name="meta")
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(img)
    x = L.BatchNormalization()(x)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    m = L.Dense(16, activation="relu")(meta)
    x = L.Concatenate()([x, m])
    x = L.Dense(32, activation="relu")(x)
    out = L.Dense(classes, activation="softmax", name="label")(x)
    model = keras.Model([img, meta], out, name="two_input")

    def split(n: int, name: str):
        xi, y = common.image_task(n, shape, classes, seed, name)
        r = common.rng(seed, "meta", name)
        code = np.eye(8)[y] * 0.8 + 0.3 * r.standard_normal((n, 8))
        return [xi, code.astype(np.float32)], y

    tr, cal, ev = split(600, "train"), split(300, "calibration")[0], split(200, "eval")
    return _classifier("k_two_input", out_dir, seed, model, tr, cal, ev, classes=classes, epochs=8,
                       weights="random init, fit 8 epochs on the image + meta task")


def autoencoder(out_dir: Path, seed: int) -> ZooModel:
    """MLPerf Tiny anomaly detection: 640 -> 128 x4 -> 8 -> 128 x4 -> 640, Dense + BN + ReLU,
    trained to reconstruct points near a low-dimensional manifold (task: reconstruction)."""
    import keras
    from keras import layers as L

    common.seed_keras(seed)
    dim = 640
    inp = keras.Input((dim,), name="frames")
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = L.ReLU()(L.BatchNormalization()(L.Dense(units)(x)))
    out = L.Dense(dim, name="reconstruction")(x)
    model = keras.Model(inp, out, name="dense_autoencoder")
    xt = common.manifold_task(1200, dim, 6, seed, "train")
    loss = common.fit_keras(model, xt, xt, epochs=15, loss="mse")
    xc = common.manifold_task(300, dim, 6, seed, "calibration")
    xe = common.manifold_task(200, dim, 6, seed, "eval")
    pred = model.predict(xe, verbose=0)
    checks = common.check_varied("k_autoencoder", pred)
    checks["fp32_reconstruction_mse"] = float(((pred - xe) ** 2).mean())
    checks["data_variance"] = float(xe.var())
    path = out_dir / "model.keras"
    common.save_keras(model, path)
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel("k_autoencoder", "keras", "regression", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"frames": [[dim], "float32"]}, outputs=[[[dim], "float32"]],
                    weights="random init, fit 15 epochs (MSE) on the manifold task", checks=checks,
                    train={"epochs": 15, "samples": len(xt), "final_loss": round(loss, 5)})


def gru_tf_keras(out_dir: Path, seed: int) -> ZooModel:
    """The same GRU classifier built and saved with tf_keras (Keras 2): the SDK's Keras 3 bridge
    refuses a default Keras 3 GRU (zero_output_for_mask), so this is the path a GRU user has."""
    import os

    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    L = tf_keras.layers
    classes, steps, feats = 6, 32, 16
    inp = tf_keras.Input((steps, feats), name="sequence")
    out = L.Dense(classes, activation="softmax", name="label")(L.GRU(48, name="gru")(inp))
    model = tf_keras.Model(inp, out, name="gru_classifier_tf_keras")
    x, y = common.sequence_task(600, steps, feats, classes, seed, "train")
    model.compile(optimizer=tf_keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    loss = float(model.fit(x, y, epochs=10, batch_size=32, verbose=0).history["loss"][-1])
    xc, _ = common.sequence_task(300, steps, feats, classes, seed, "calibration")
    xe, ye = common.sequence_task(180, steps, feats, classes, seed, "eval")
    pred = model.predict(xe, verbose=0)
    checks = common.check_spread("k_gru_tf_keras", pred, classes, ye)
    path = out_dir / "model.h5"
    model.save(path)
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel("k_gru_tf_keras", "keras", "classification", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"sequence": [[steps, feats], "float32"]}, outputs=[[[classes], "float32"]],
                    weights="random init (tf_keras), fit 10 epochs on the sequence task", checks=checks,
                    train={"epochs": 10, "samples": len(y), "final_loss": round(loss, 4)})
