"""The XNNPACK partitioner, minus PReLU on tensors that are not 4-D (executorch 1.5.1).

Why: XNNPACK's lowering runs PReLU channels-last, so `ChannelsLastTaggedReshapePass` must turn its input
into NHWC; for a PReLU after a linear layer (a 2-D input, as in MTCNN's ONet/RNet heads) that is
impossible and the whole lowering fails ("Attempting to convert non-NHWC compatible node to NHWC"),
fp32 included. The partitioner's PReLU check does not look at the rank, so this one does: such a PReLU
stays with ExecuTorch's portable kernels and the rest of the graph is still delegated.
"""

from __future__ import annotations

from typing import Any

from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS
from executorch.backends.xnnpack.partition.config.node_configs import PreluConfig
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner


class ChannelsLastPreluConfig(PreluConfig):
    def check_constraints(self, node: Any, ep: Any) -> bool:
        value = node.all_input_nodes[0].meta.get("val")
        if value is None or value.dim() != 4:
            return False
        return super().check_constraints(node, ep)


def partitioner() -> XnnpackPartitioner:
    configs = [ChannelsLastPreluConfig if c is PreluConfig else c for c in ALL_PARTITIONER_CONFIGS]
    return XnnpackPartitioner(configs=configs)
