"""edge-sdk: take a trained model to a phone, a microcontroller or a Jetson.

The public API (README "Python API"); heavy frameworks are imported only inside the functions that
need them, and every name below resolves on first use, so `import edge_sdk` stays cheap:

    from edge_sdk import build, plan, inspect, bench, compare
    from edge_sdk import load_model, analyze, check_fit, get_profile, list_profiles, load_dataset
"""

__version__ = "0.1.0"

from importlib import import_module

from edge_sdk.errors import EdgeSDKError

# Resolved on first use (PEP 562) so `import edge_sdk` - and with it `edge-sdk --help` - stays cheap.
_LAZY = {
    "build": "edge_sdk.api",
    "build_matrix": "edge_sdk.api",
    "ModelJob": "edge_sdk.api",
    "plan": "edge_sdk.api",
    "inspect": "edge_sdk.api",
    "bench": "edge_sdk.api",
    "compare": "edge_sdk.api",
    "TargetResult": "edge_sdk.api",
    "PlanResult": "edge_sdk.api",
    "InspectResult": "edge_sdk.api",
    "BenchOutcome": "edge_sdk.api",
    "CompareResult": "edge_sdk.api",
    "Budgets": "edge_sdk.contracts.budgets",
    "Dataset": "edge_sdk.data",
    "load_dataset": "edge_sdk.data",
    "analyze": "edge_sdk.model",
    "load_model": "edge_sdk.model",
    "check_fit": "edge_sdk.planner.fit",
    "Profile": "edge_sdk.profiles",
    "get_profile": "edge_sdk.profiles",
    "list_profiles": "edge_sdk.profiles",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edge_sdk' has no attribute {name!r}")


__all__ = ["__version__", "EdgeSDKError", *sorted(_LAZY)]
