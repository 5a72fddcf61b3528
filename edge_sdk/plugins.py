"""Your own techniques, formats or executors, registered by modules edge-sdk imports at start.

`EDGE_SDK_PLUGINS=pkg.module,other.module` names modules to import in the CLI's process and in every
worker process, before any name is looked up; each registers what it adds with the registries'
decorators (e.g. `TECHNIQUES.register(...)`). A module that cannot be imported is a ConfigError.
Plugins are code you chose to run, like `--trust-model`: nothing is imported that you did not name.
"""

from __future__ import annotations

import importlib
import os

from edge_sdk.errors import ConfigError

ENV_VAR = "EDGE_SDK_PLUGINS"
_loaded: set[str] = set()


def load_plugins() -> list[str]:
    """Import every module named in $EDGE_SDK_PLUGINS once; returns their names."""
    names = [n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip()]
    for name in names:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"{ENV_VAR}: cannot import plugin module {name!r} ({exc}); fix the name or PYTHONPATH") from None
        _loaded.add(name)
    return names
