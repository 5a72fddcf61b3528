"""Regenerate the bundled PyTorch digits example: a small CNN trained on scikit-learn's digits, saved
with `torch.export.save` (no pickled code: the loader reads it without --trust-model).

    python scripts/make_torch_digits_example.py [--seed 0] [--epochs 30]

Same splits as scripts/make_digits_example.py (`load_splits(seed)`), so the bundled
calibration_data/digits_*.npz files feed this model too: the input "image" is (N, 8, 8, 1) float32
in [0, 1] (NHWC, permuted to NCHW inside the model); the output is 10 logits. The batch dimension is
exported as dynamic (1..1024). Writes examples/torch_digits/model.pt2, byte-identical for a seed.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from make_digits_example import load_splits  # noqa: E402


def build_model(width: float = 1.0):
    import torch
    from torch import nn

    w = lambda n: max(1, int(round(n * width)))  # noqa: E731

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, w(16), 3, padding=1)
            self.bn1 = nn.BatchNorm2d(w(16))
            self.conv2 = nn.Conv2d(w(16), w(32), 3, padding=1)
            self.conv3 = nn.Conv2d(w(32), w(64), 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(w(64) * 4, w(64))
            self.dropout = nn.Dropout(0.2)
            self.fc2 = nn.Linear(w(64), 10)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = image.permute(0, 3, 1, 2)
            x = torch.relu(self.bn1(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = self.pool(torch.relu(self.conv3(x)))
            x = torch.relu(self.fc1(torch.flatten(x, 1)))
            return self.fc2(self.dropout(x))

    return DigitsCNN()


def train(model, x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), 32):
            idx = order[start : start + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()


def export(model, example: np.ndarray):
    import torch

    batch = torch.export.Dim("batch", min=1, max=1024)
    return torch.export.export(model, (torch.from_numpy(example),), dynamic_shapes={"image": {0: batch}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "examples/torch_digits/model.pt2")
    args = parser.parse_args()

    import torch

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    s = load_splits(args.seed)
    model = build_model()
    train(model, s["x_train"], s["y_train"], epochs=args.epochs, seed=args.seed)
    with torch.no_grad():
        pred = model(torch.from_numpy(s["x_eval"])).argmax(1).numpy()
    acc = float((pred == s["y_eval"]).mean())
    ep = export(model, s["x_train"][:2])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # a buffer, not a path: the archive's inner folder name is then fixed
    torch.export.save(ep, buffer)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(args.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"eval accuracy {acc * 100:.2f}% on {len(pred)} held-out images; params {params}; wrote {args.out}")


if __name__ == "__main__":
    main()
