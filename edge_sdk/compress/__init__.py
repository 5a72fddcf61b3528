"""Compression techniques, registered by name in TECHNIQUES (see base.py for the contract).

Each technique module is imported here explicitly so the registry never depends on import order.
The modules import TensorFlow/TFMOT/torch only inside their functions.
"""

from edge_sdk.compress import cluster, distill, lowrank, prune, ptq, qat  # noqa: F401  (Keras techniques)
from edge_sdk.compress import torch_distill, torch_prune, torch_ptq, torch_qat  # noqa: F401  (PyTorch techniques)
from edge_sdk.compress.base import TECHNIQUES, TechniqueData, apply_step, register_technique

__all__ = ["TECHNIQUES", "TechniqueData", "apply_step", "register_technique"]
