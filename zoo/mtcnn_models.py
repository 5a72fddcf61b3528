"""MTCNN's three face-detection networks with their real pretrained weights, from the `mtcnn` wheel
(mtcnn/assets/weights/{pnet,rnet,onet}.lz4). The package's own networks are subclassed models; these
are the same layers, names and order as functional Keras 3 models, so they save as plain .keras.

The weight files are lz4-compressed joblib pickles of a list of float arrays. They are read with an
unpickler that admits only joblib's array wrapper, numpy.ndarray and numpy.dtype, so no code from the
file can run; importing the package itself (which imports TensorFlow) is not needed.

Inputs are RGB in [-1, 1] ((pixel - 127.5) / 128, what mtcnn feeds). The data: smooth synthetic
images, half of them pushed by a few steps of gradient ascent on the face score, so the class-score
output covers both classes (on plain synthetic images every window is "not a face").
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np

from zoo import common
from zoo.model import ZooModel

# mtcnn's layer order (its subclassed models' __init__), with PReLU shared axes as in the package
_LAYERS = {
    "pnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4-1", "conv4-2"],
    "rnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "fc4", "prelu4", "fc5-1", "fc5-2"],
    "onet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "fc5", "prelu5",
             "fc6-1", "fc6-2", "fc6-3"],
}


def load_weights(net: str) -> list[np.ndarray]:
    """The arrays of mtcnn/assets/weights/<net>.lz4, in the package's layer order."""
    import lz4.frame
    from joblib.numpy_pickle import NumpyUnpickler

    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the mtcnn package is not installed: pip install 'edge-sdk[zoo]'")
    path = Path(spec.submodule_search_locations[0]) / "assets" / "weights" / f"{net}.lz4"
    raw = lz4.frame.decompress(path.read_bytes())

    class ArraysOnly(NumpyUnpickler):
        allowed = {("joblib.numpy_pickle", "NumpyArrayWrapper"), ("numpy", "ndarray"), ("numpy", "dtype"),
                   ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

        def find_class(self, module, name):
            if (module, name) not in self.allowed:
                raise pickle.UnpicklingError(f"{path}: refusing to load {module}.{name} (arrays only)")
            return super().find_class(module, name)

    arrays = ArraysOnly(str(path), io.BytesIO(raw), ensure_native_byte_order=True).load()
    if not isinstance(arrays, list) or not all(isinstance(a, np.ndarray) for a in arrays):
        raise ValueError(f"{path}: expected a list of arrays")
    return arrays


def _keras_net(net: str, input_shape: tuple[int, int, int]):
    import keras
    from keras import layers as L

    inp = keras.Input(input_shape, name="image")

    def block(x, filters, k, name, pool=None):
        x = L.Conv2D(filters, k, padding="valid", name=f"conv{name}")(x)
        x = L.PReLU(shared_axes=[1, 2], name=f"prelu{name}")(x)
        if pool:
            x = L.MaxPooling2D(pool[0], strides=pool[1], padding=pool[2], name=f"maxpooling{name}")(x)
        return x

    if net == "pnet":
        x = block(inp, 10, 3, "1", ((2, 2), (2, 2), "same"))
        x = block(x, 16, 3, "2")
        x = block(x, 32, 3, "3")
        outs = [L.Conv2D(4, 1, name="conv4-1")(x), L.Conv2D(2, 1, activation="softmax", name="conv4-2")(x)]
    else:
        x = block(inp, 28 if net == "rnet" else 32, 3, "1", ((3, 3), (2, 2), "same"))
        x = block(x, 48 if net == "rnet" else 64, 3, "2", ((3, 3), (2, 2), "valid"))
        if net == "rnet":
            x = block(x, 64, 2, "3")
            head, fc = 128, "4"
        else:
            x = block(x, 64, 3, "3", ((2, 2), (2, 2), "same"))
            x = block(x, 128, 2, "4")
            head, fc = 256, "5"
        x = L.Flatten(name="flatten")(L.Permute((2, 1, 3), name="permute")(x))
        x = L.PReLU(name=f"prelu{fc}")(L.Dense(head, name=f"fc{fc}")(x))
        nxt = str(int(fc) + 1)
        if net == "rnet":
            outs = [L.Dense(4, name=f"fc{nxt}-1")(x), L.Dense(2, activation="softmax", name=f"fc{nxt}-2")(x)]
        else:
            outs = [L.Dense(4, name=f"fc{nxt}-1")(x), L.Dense(10, name=f"fc{nxt}-2")(x),
                    L.Dense(2, activation="softmax", name=f"fc{nxt}-3")(x)]
    model = keras.Model(inp, outs, name=f"mtcnn_{net}")
    weights = load_weights(net)
    i = 0
    for name in _LAYERS[net]:
        layer = model.get_layer(name)
        n = len(layer.get_weights())
        layer.set_weights([w.reshape(v.shape) for w, v in zip(weights[i : i + n], layer.get_weights())])
        i += n
    assert i == len(weights), f"mtcnn {net}: {len(weights)} arrays, the network takes {i}"
    return model


def face_images(n: int, size: int, seed: int, split: str, face_score=None) -> np.ndarray:
    """(n, size, size, 3) float32 in [-1, 1]; with `face_score(x) -> tf scalar per sample`, every other
    image gets 40 steps of signed gradient ascent on it."""
    x, _ = common.image_task(n, (size, size, 3), 4, seed, f"mtcnn-{split}")
    x = x * 2 - 1
    if face_score is not None:
        import tensorflow as tf

        idx = np.arange(0, n, 2)
        v = tf.Variable(x[idx])
        for _ in range(40):
            with tf.GradientTape() as tape:
                s = tf.reduce_sum(face_score(v))
            v.assign(tf.clip_by_value(v + 0.02 * tf.sign(tape.gradient(s, v)), -1.0, 1.0))
        x[idx] = v.numpy()
    return x.astype(np.float32)


def _make(net: str, out_dir: Path, seed: int, size: int, n_cal: int, n_eval: int) -> ZooModel:
    common.seed_keras(seed)
    model = _keras_net(net, (size, size, 3))
    score = lambda v: tf_mean_face(model(v, training=False)[-1])  # noqa: E731
    xc = face_images(n_cal, size, seed, "calibration", score)
    xe = face_images(n_eval, size, seed, "eval", score)
    outs = model.predict(xe, verbose=0)
    probs = np.asarray(outs[-1]).reshape(len(xe), -1, 2)
    face = float((probs[..., 1] > 0.5).mean())
    if not 0.1 <= face <= 0.9:
        raise common.DegenerateModel(f"zoo model k_mtcnn_{net}: {face:.0%} of eval windows score as faces; want 10-90%")
    checks = {"face_fraction": round(face, 3), **common.check_varied(f"k_mtcnn_{net}", outs[0], 0.99)}
    path = out_dir / "model.keras"
    common.save_keras(model, path)
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel(f"k_mtcnn_{net}", "keras", "detection", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"image": [[size, size, 3], "float32"]},
                    outputs=[[list(o.shape[1:]), "float32"] for o in outs],
                    weights=f"pretrained: mtcnn 1.0.0 wheel, mtcnn/assets/weights/{net}.lz4", checks=checks)


def tf_mean_face(probs):
    import tensorflow as tf

    return tf.reduce_mean(tf.reshape(probs, (tf.shape(probs)[0], -1, 2))[..., 1], axis=1)


def pnet(out_dir: Path, seed: int) -> ZooModel:
    """PNet, fully convolutional, on 48x48 windows: 19x19 maps of box offsets and face scores."""
    return _make("pnet", out_dir, seed, 48, 300, 200)


def rnet(out_dir: Path, seed: int) -> ZooModel:
    """RNet on 24x24 windows: the two-output model (boxes (4,) first, then class scores (2,))."""
    return _make("rnet", out_dir, seed, 24, 300, 200)


def onet(out_dir: Path, seed: int) -> ZooModel:
    """ONet on 48x48 windows: three outputs (boxes (4,), landmarks (10,), class scores (2,))."""
    return _make("onet", out_dir, seed, 48, 300, 200)
