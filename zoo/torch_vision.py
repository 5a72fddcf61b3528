"""The torchvision classifiers and a small ViT (architectures in zoo/torch_arch.py, written from the
papers in torchvision's layout: torchvision itself cannot be imported against torch==2.13.0+cpu),
random init, fit a few epochs on the class-conditional image task, then saved with
torch.export.save (batch dimension dynamic, 1..1024). Input: NCHW float32 in [0, 1], named `x`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import common
from zoo.model import ZooModel

CLASSES = 10


def save_pt2(model, example: tuple, path: Path, names: list[str], dynamic_batch: bool = True) -> None:
    """torch.export.export + torch.export.save (no pickled code); batch dim dynamic unless told."""
    import torch

    shapes = None
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1, max=1024)
        shapes = {n: {0: batch} for n in names}
    ep = torch.export.export(model, example, dynamic_shapes=shapes)
    torch.export.save(ep, str(path))


def predict(model, *arrays: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    outs = []
    with torch.no_grad():
        for s in range(0, len(arrays[0]), batch):
            outs.append(model(*(torch.from_numpy(a[s : s + batch]) for a in arrays)).numpy())
    return np.concatenate(outs)


def classifier(name: str, out_dir: Path, seed: int, model, *, size: int, epochs: int, n_train: int = 600,
               n_cal: int = 300, n_eval: int = 200, lr: float = 2e-3, weights: str = "") -> ZooModel:
    import torch

    shape = (size, size, 3)
    x, y = common.image_task(n_train, shape, CLASSES, seed, "train", channels_first=True)
    loss = common.fit_torch(model, (torch.from_numpy(x),), torch.from_numpy(y), epochs=epochs, lr=lr, seed=seed)
    xc, _ = common.image_task(n_cal, shape, CLASSES, seed, "calibration", channels_first=True)
    xe, ye = common.image_task(n_eval, shape, CLASSES, seed, "eval", channels_first=True)
    pred = predict(model, xe)
    checks = common.check_spread(name, pred, CLASSES, ye)
    path = out_dir / "model.pt2"
    save_pt2(model, (torch.from_numpy(xe[:2]),), path, ["x"])
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel(name, "torch", "classification", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"x": [[3, size, size], "float32"]}, outputs=[[[CLASSES], "float32"]],
                    weights=weights or f"weights=None, fit {epochs} epochs on the image task", checks=checks,
                    train={"epochs": epochs, "samples": n_train, "final_loss": round(loss, 4)})


def _tv(name: str, out_dir: Path, seed: int, ctor: str, size: int, epochs: int, **kw) -> ZooModel:
    common.seed_torch(seed)
    from zoo import torch_arch

    model = getattr(torch_arch, ctor)(CLASSES)
    return classifier(name, out_dir, seed, model, size=size, epochs=epochs,
                      weights=f"{ctor} (torchvision layout, zoo/torch_arch.py), random init, fit {epochs} epochs on the image task", **kw)


def mobilenet_v2(out_dir: Path, seed: int) -> ZooModel:
    return _tv("t_mobilenet_v2", out_dir, seed, "mobilenet_v2", 64, 4, n_train=400)


def mobilenet_v3_small(out_dir: Path, seed: int) -> ZooModel:
    return _tv("t_mobilenet_v3_small", out_dir, seed, "mobilenet_v3_small", 64, 5, n_train=400)


def resnet18(out_dir: Path, seed: int) -> ZooModel:
    return _tv("t_resnet18", out_dir, seed, "resnet18", 32, 3, n_train=400, lr=1e-3)


def squeezenet1_1(out_dir: Path, seed: int) -> ZooModel:
    # no batch norm: at lr 1e-3 its ReLUs died and every eval input got one class; 3e-4 spreads over 5 of 10
    return _tv("t_squeezenet1_1", out_dir, seed, "squeezenet1_1", 48, 20, n_train=400, lr=3e-4)


def shufflenet_v2_x0_5(out_dir: Path, seed: int) -> ZooModel:
    return _tv("t_shufflenet_v2_x0_5", out_dir, seed, "shufflenet_v2_x0_5", 48, 5, n_train=400)


def efficientnet_b0(out_dir: Path, seed: int) -> ZooModel:
    return _tv("t_efficientnet_b0", out_dir, seed, "efficientnet_b0", 32, 4, n_train=400, n_cal=200, n_eval=120)


def vit_tiny(out_dir: Path, seed: int) -> ZooModel:
    common.seed_torch(seed)
    from zoo.torch_arch import ViT

    model = ViT(image_size=32, patch=4, layers=4, heads=4, dim=96, mlp=192, num_classes=CLASSES)
    return classifier("t_vit_tiny", out_dir, seed, model, size=32, epochs=10, n_train=800, lr=1e-3,
                      weights="ViT (torchvision layout: 4 layers, dim 96, patch 4), random init, fit 10 epochs on the image task")
