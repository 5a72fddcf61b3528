"""keras.applications models (weights=None: nothing is downloaded), given trained-like weights by a
few epochs on the class-conditional image task (zoo.common.image_task): BN statistics come from
data, biases are non-zero, and the generator asserts that fp32 top-1 over eval spreads over >= half
the classes.
"""

from __future__ import annotations

from pathlib import Path

from zoo import common
from zoo.model import ZooModel

CLASSES = 10


def _make(name: str, out_dir: Path, seed: int, build, *, size: int, n_train: int, n_cal: int, n_eval: int,
          epochs: int, scale: float = 1.0, lr: float = 2e-3) -> ZooModel:
    common.seed_keras(seed)
    shape = (size, size, 3)
    model = build(shape)
    x, y = common.image_task(n_train, shape, CLASSES, seed, "train", scale=scale)
    loss = common.fit_keras(model, x, y, epochs=epochs, lr=lr)
    xc, _ = common.image_task(n_cal, shape, CLASSES, seed, "calibration", scale=scale)
    xe, ye = common.image_task(n_eval, shape, CLASSES, seed, "eval", scale=scale)
    pred = model.predict(xe, verbose=0, batch_size=32)
    checks = common.check_spread(name, pred, CLASSES, ye)
    path = out_dir / "model.keras"
    common.save_keras(model, path)
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel(
        name, "keras", "classification", path, out_dir / "calibration.npz", out_dir / "eval.npz",
        inputs={model.inputs[0].name: [list(shape), "float32"]}, outputs=[[[CLASSES], "float32"]],
        weights=f"keras.applications weights=None, fit {epochs} epochs on the image task",
        checks=checks, train={"epochs": epochs, "samples": n_train, "final_loss": round(loss, 4), "input_scale": scale},
    )


def mobilenet_025(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_mobilenet_025", out_dir, seed,
                 lambda s: keras.applications.MobileNet(input_shape=s, alpha=0.25, weights=None, classes=CLASSES),
                 size=96, n_train=600, n_cal=300, n_eval=200, epochs=10, lr=3e-3)


def mobilenet_v2_035(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_mobilenet_v2_035", out_dir, seed,
                 lambda s: keras.applications.MobileNetV2(input_shape=s, alpha=0.35, weights=None, classes=CLASSES),
                 size=96, n_train=600, n_cal=300, n_eval=200, epochs=10, lr=3e-3)


def mobilenet_v3_small(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_mobilenet_v3_small", out_dir, seed,
                 lambda s: keras.applications.MobileNetV3Small(input_shape=s, weights=None, classes=CLASSES,
                                                               include_preprocessing=True),
                 size=96, n_train=600, n_cal=300, n_eval=200, epochs=10, lr=3e-3, scale=255.0)


def mobilenet_v3_small_min(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_mobilenet_v3_small_min", out_dir, seed,
                 lambda s: keras.applications.MobileNetV3Small(input_shape=s, weights=None, classes=CLASSES,
                                                               minimalistic=True, include_preprocessing=True),
                 size=96, n_train=600, n_cal=300, n_eval=200, epochs=10, lr=3e-3, scale=255.0)


def efficientnet_b0(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_efficientnet_b0", out_dir, seed,
                 lambda s: keras.applications.EfficientNetB0(input_shape=s, weights=None, classes=CLASSES),
                 size=48, n_train=500, n_cal=200, n_eval=120, epochs=5, scale=255.0)


def nasnet_mobile(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_nasnet_mobile", out_dir, seed,
                 lambda s: keras.applications.NASNetMobile(input_shape=s, weights=None, classes=CLASSES),
                 size=48, n_train=400, n_cal=160, n_eval=100, epochs=4)


def densenet121(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_densenet121", out_dir, seed,
                 lambda s: keras.applications.DenseNet121(input_shape=s, weights=None, classes=CLASSES),
                 size=32, n_train=400, n_cal=100, n_eval=64, epochs=3, lr=1e-3)


def resnet50(out_dir: Path, seed: int) -> ZooModel:
    import keras

    return _make("k_resnet50", out_dir, seed,
                 lambda s: keras.applications.ResNet50(input_shape=s, weights=None, classes=CLASSES),
                 size=32, n_train=400, n_cal=100, n_eval=64, epochs=3, lr=1e-3)

