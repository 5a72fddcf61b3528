"""Weight clustering with TFMOT: each layer's weights share `clusters` values (k-means++ init).

Clustered weights compress well (gzip / OTA size) and are what palettized formats store. The flow is
cluster_weights -> label-free fine-tune -> strip_clustering, then with `qat: true` cluster-preserving
QAT (Default8BitClusterPreserveQuantizeScheme) so int8 export keeps the shared values. The record
holds the number of distinct weight values measured per layer on the final weights.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import qat, training
from edge_sdk.frameworks.keras.techniques.qat import LayerStepConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Positive


class ClusterConfig(LayerStepConfig):
    clusters: Annotated[int, Field(ge=2)] = 16  # distinct weight values per layer
    epochs: Count = 4
    learning_rate: Positive = 1e-4
    preserve_sparsity: bool = False  # with qat: also keep zeros (after prune -> cluster)
    qat_epochs: Count = 3


def _clusterable(layer: Any, cfg: ClusterConfig) -> bool:
    deps.tfmot()
    from tensorflow_model_optimization.python.core.clustering.keras.clustering_registry import ClusteringRegistry

    if not cfg.chooses(layer.name):
        return False
    kernel = getattr(layer, "kernel", None)
    return kernel is not None and int(np.prod(kernel.shape)) > cfg.clusters and ClusteringRegistry.supports(layer)


def distinct_values(handle: Any, names: list[str]) -> dict[str, int]:
    return {n: int(np.unique(training.kernel_of(training.find_layer(handle, n))).size) for n in names}


@register_technique("cluster", "keras", ClusterConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: ClusterConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    data = training.validated(model, data, cfg)
    if qat.is_quantized(model.handle):
        raise ConfigError("cluster: the model is already quantization-aware; cluster before qat (or use qat: true)")
    training.seed_everything(cfg.seed)
    clustering = deps.tfmot().clustering.keras
    clustered: list[str] = []

    def wrap(layer: Any) -> Any:
        if not _clusterable(layer, cfg):
            return layer
        clustered.append(layer.name)
        return clustering.cluster_weights(
            layer,
            number_of_clusters=cfg.clusters,
            cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
        )

    wrapped = training.rewrap(model.handle, wrap)
    if not clustered:
        raise ConfigError("cluster: no clusterable layer (Conv/Dense kernels larger than `clusters`) matched")
    metrics = training.fit(wrapped, data, cfg, label="cluster")
    result = clustering.strip_clustering(wrapped)
    notes: list[str] = []
    if cfg.qat:
        preserve = "both" if cfg.preserve_sparsity else "clusters"
        result, metrics["qat"], notes = qat.finish_with_qat(model, result, data, cfg, preserve, label="cluster-qat")
    metrics["layer_distinct_values"] = distinct_values(result, clustered)
    metrics["eval_top1_agreement"] = training.fidelity_on(result, data)
    params = {k: getattr(cfg, k) for k in ("clusters", "epochs", "learning_rate", "qat", "preserve_sparsity", "seed")}
    return dataclasses.replace(model, handle=result), training.record("cluster", params, metrics, notes, start)
