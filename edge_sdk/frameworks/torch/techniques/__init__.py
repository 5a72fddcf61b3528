"""PyTorch techniques (torchao pt2e, KD fine-tuning of the program's graph module), registered for
framework "torch".

Each technique module is imported here explicitly so the registry never depends on import order; they
import torch/torchao/executorch only inside their functions. training.py (the KD loop) and
channels.py (channel surgery for channel pruning and derived students) are their shared helpers.
"""

from edge_sdk.frameworks.torch.techniques import decompose, distill, prune, ptq, qat  # noqa: F401
