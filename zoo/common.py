"""Helpers every zoo generator shares: seeding, synthetic-but-structured data, the non-degeneracy
checks, and writing the model's data files.

The data are synthetic (no network, no data set download) but structured, so a model trained on
them has outputs a compression can damage measurably: each class has a fixed smooth prototype
(images) or temporal pattern (sequences, MFCC-like frames, token distributions); a sample is its
class's prototype, randomly shifted, scaled and noised. Prototypes depend only on the generator's
seed, so calibration, eval and training splits share them and differ only in their samples.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np


class DegenerateModel(AssertionError):
    """A generator made a model whose outputs carry no information (fidelity on them means nothing)."""


def rng(seed: int, *salt: str | int) -> np.random.Generator:
    """A generator seeded by the zoo seed and a purpose ("proto", "train", "eval", ...)."""
    words = [seed, *[s if isinstance(s, int) else int.from_bytes(s.encode()[:8].ljust(8, b"\0"), "little") for s in salt]]
    return np.random.default_rng(words)


# ---------------------------------------------------------------------------------------- seeding

def seed_keras(seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def seed_torch(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(min(2, os.cpu_count() or 1))


# ------------------------------------------------------------------------------------------- data

def _smooth_field(r: np.random.Generator, h: int, w: int, c: int, freq: int = 4) -> np.ndarray:
    """A smooth random pattern in [0, 1]: a few low-frequency cosines per channel."""
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    out = np.zeros((h, w, c))
    for ch in range(c):
        for _ in range(3):
            fy, fx = r.integers(1, freq + 1, size=2)
            phase = r.uniform(0, 2 * np.pi)
            out[..., ch] += r.uniform(0.5, 1.0) * np.cos(2 * np.pi * (fy * yy + fx * xx) + phase)
    out -= out.min()
    return out / max(out.max(), 1e-9)


def image_task(n: int, shape: tuple[int, int, int], classes: int, seed: int, split: str,
               scale: float = 1.0, channels_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): images of `shape` (H, W, C) in [0, scale], float32; class = smooth prototype + noise."""
    h, w, c = shape
    pr = rng(seed, "image-proto", h * 1000 + w, c, classes)
    protos = np.stack([_smooth_field(pr, h, w, c) for _ in range(classes)])
    r = rng(seed, "image", split)
    y = np.arange(n) % classes
    r.shuffle(y)
    x = np.empty((n, h, w, c))
    for i, k in enumerate(y):
        img = np.roll(protos[k], (int(r.integers(-h // 8, h // 8 + 1)), int(r.integers(-w // 8, w // 8 + 1))), axis=(0, 1))
        img = img * r.uniform(0.7, 1.1) + r.uniform(-0.1, 0.1) + 0.12 * r.standard_normal((h, w, c))
        x[i] = np.clip(img, 0, 1)
    x = (x * scale).astype(np.float32)
    if channels_first:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x, y.astype(np.int64)


def sequence_task(n: int, steps: int, features: int, classes: int, seed: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): (n, steps, features) float32 sequences, MFCC-like: each class a fixed smooth
    time-frequency envelope, shifted in time, scaled and noised (roughly zero-mean, unit scale)."""
    pr = rng(seed, "seq-proto", steps * 1000 + features, classes)
    protos = np.stack([_smooth_field(pr, steps, features, 1, freq=3)[..., 0] for _ in range(classes)]) * 2 - 1
    r = rng(seed, "seq", split)
    y = np.arange(n) % classes
    r.shuffle(y)
    x = np.empty((n, steps, features))
    for i, k in enumerate(y):
        s = np.roll(protos[k], int(r.integers(-steps // 6, steps // 6 + 1)), axis=0)
        x[i] = s * r.uniform(0.7, 1.2) + 0.25 * r.standard_normal((steps, features))
    return x.astype(np.float32), y.astype(np.int64)


def manifold_task(n: int, dim: int, latent: int, seed: int, split: str) -> np.ndarray:
    """(n, dim) float32 points near a `latent`-dimensional smooth manifold (for autoencoders):
    a fixed random two-layer map of a low-dimensional code, plus a little noise."""
    pr = rng(seed, "manifold", dim, latent)
    w1, w2 = pr.standard_normal((latent, 64)), pr.standard_normal((64, dim)) / 8
    z = rng(seed, "manifold-z", split).standard_normal((n, latent))
    x = np.tanh(z @ w1) @ w2 + 0.02 * rng(seed, "manifold-noise", split).standard_normal((n, dim))
    return x.astype(np.float32)


def token_task(n: int, length: int, vocab: int, classes: int, seed: int, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, attention_mask, y), int64 [n, length]: each class draws its tokens from its own
    Zipf-like distribution over the vocabulary; lengths vary, the rest is padding (id 0, mask 0).
    Id 1 is [CLS] at position 0."""
    pr = rng(seed, "token-proto", vocab, classes)
    ranks = np.arange(1, vocab - 1)
    dists = []
    for _ in range(classes):
        p = 1.0 / ranks ** 1.1
        p = p[pr.permutation(len(p))]
        dists.append(p / p.sum())
    r = rng(seed, "tokens", split)
    y = np.arange(n) % classes
    r.shuffle(y)
    ids = np.zeros((n, length), np.int64)
    mask = np.zeros((n, length), np.int64)
    for i, k in enumerate(y):
        m = int(r.integers(length // 4, length + 1))
        ids[i, 0] = 1
        ids[i, 1:m] = r.choice(np.arange(2, vocab), size=m - 1, p=dists[k])
        mask[i, :m] = 1
    return ids, mask, y.astype(np.int64)


# ----------------------------------------------------------------------------------------- checks

def check_spread(name: str, outputs: np.ndarray, classes: int | None = None, labels: np.ndarray | None = None) -> dict:
    """Assert a classifier's fp32 top-1 over the eval inputs spreads over >= half its classes; with the
    task's `labels`, also its accuracy on them."""
    outputs = np.asarray(outputs).reshape(len(outputs), -1)
    classes = classes or outputs.shape[1]
    top1 = outputs.argmax(1)
    used = int(len(np.unique(top1)))
    need = math.ceil(classes / 2)
    if used < need:
        raise DegenerateModel(
            f"zoo model {name}: fp32 top-1 over the eval inputs uses {used} of {classes} classes "
            f"(need >= {need}); the weights are not trained-like, fidelity on them would mean nothing"
        )
    checks = {"classes": classes, "top1_classes_used": used, "top1_histogram": np.bincount(top1, minlength=classes).tolist()}
    if labels is not None:
        checks["fp32_accuracy_on_task"] = round(float((top1 == labels).mean()), 4)
    return checks


def check_varied(name: str, outputs: np.ndarray, max_mean_cosine: float = 0.95) -> dict:
    """Assert regression / embedding outputs differ between samples: the mean pairwise cosine of the
    centred-free outputs stays below `max_mean_cosine` and no output is constant."""
    o = np.asarray(outputs, np.float64).reshape(len(outputs), -1)
    if not np.isfinite(o).all():
        raise DegenerateModel(f"zoo model {name}: non-finite outputs")
    std = float(o.std(0).mean())
    u = o / np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-12)
    sim = u @ u.T
    mean_cos = float((sim.sum() - np.trace(sim)) / max(1, len(o) * (len(o) - 1)))
    if std < 1e-6 or mean_cos > max_mean_cosine:
        raise DegenerateModel(
            f"zoo model {name}: outputs barely differ between samples (mean pairwise cosine {mean_cos:.3f}, "
            f"mean std {std:.2e}); the weights are not trained-like"
        )
    return {"mean_pairwise_cosine": round(mean_cos, 4), "mean_output_std": round(std, 6)}


# ------------------------------------------------------------------------------------------ files

def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Uncompressed .npz without pickles (the SDK refuses object arrays)."""
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"{path}: {k} is an object array")
    np.savez(path, **arrays)


def save_keras(model, path: Path) -> None:
    """Save a Keras 3 model as .keras with a fixed `date_saved` and fixed zip timestamps, so the same
    weights give the same bytes (the SDK's build cache keys on the model file's sha256)."""
    import json

    tmp = path.with_suffix(".tmp.keras")
    model.save(tmp)
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "2000-01-01@00:00:00"
                data = json.dumps(meta, sort_keys=True).encode()
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0)), data)
    tmp.unlink()


def fit_keras(model, x, y, *, epochs: int, batch_size: int = 32, lr: float = 2e-3, loss: str = "sparse_categorical_crossentropy") -> float:
    """A few epochs of Adam; returns the last training loss."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    recalibrate_bn(model, x)
    return float(hist.history["loss"][-1])


def recalibrate_bn(model, x, samples: int = 256) -> None:
    """Set every BatchNormalization's moving statistics to those of the data: a few epochs leave
    them mostly at their initial values (momentum 0.99-0.999), so inference would see garbage."""
    import keras

    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    batch = [a[:samples] for a in x] if isinstance(x, (list, tuple)) else x[:samples]
    model(batch, training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m


def fit_torch(model, inputs: tuple, target, *, epochs: int, batch_size: int = 32, lr: float = 2e-3, loss_fn=None, seed: int = 0) -> float:
    """A few epochs of Adam on (inputs..., target) tensors; cross-entropy unless `loss_fn`; eval mode after."""
    import torch

    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    last = float("nan")
    n = len(target)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss = loss_fn(model(*(t[idx] for t in inputs)), target[idx])
            loss.backward()
            opt.step()
            last = float(loss.detach())
    model.eval()
    return last
