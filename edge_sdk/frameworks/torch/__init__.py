"""PyTorch: `.pt2` files (torch.export.save) and in-memory modules, handled as ExportedPrograms.

Loading and the archive safety scan (loading.py), analysis (analysis.py), running a program
(reference.py), moving between a program and its trainable graph module (graph.py), the build
cache's `.pt2` (cache.py), the ladder rungs for ExecuTorch targets (rungs.py) and the PyTorch
techniques (techniques/).
"""

from edge_sdk.frameworks.base import CacheFormat, Frontend, register_frontend
from edge_sdk.frameworks.torch import analysis, cache, loading, reference, rungs, techniques  # noqa: F401  (techniques: registers them)

register_frontend(
    Frontend(
        name="torch",
        suffixes=(".pt2", *loading.PICKLE_SUFFIXES),
        accepts=".pt2",
        detect=loading.detect,
        load=lambda path, fmt, trust_model: loading.load(path, trust_model=trust_model),
        analyze=analysis.analyze_torch,
        formats=("pte", "pte-coreml", "coreml"),
        claims=loading.is_torch_model,
        wrap=loading.wrap,
        reference=reference.run,
        cache=CacheFormat(cache.FILE, cache.save, cache.load),
        rungs=rungs.rungs,
    )
)
