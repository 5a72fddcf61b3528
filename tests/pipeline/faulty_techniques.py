"""Techniques that fail the ways a real trained rung can: loaded as a plugin (EDGE_SDK_PLUGINS) by the
isolation tests, in the CLI's process and in every worker."""

from __future__ import annotations

import os
import signal
import time

from edge_sdk.techniques.base import register_technique
from edge_sdk.techniques.config import TechniqueConfig


@register_technique("test-segfault", "keras", TechniqueConfig)
def segfault(model, data, config):
    print("about to crash natively", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)


@register_technique("test-bug", "keras", TechniqueConfig)
def bug(model, data, config):
    return {}["a key our own code forgot"]


@register_technique("test-hang", "keras", TechniqueConfig)
def hang(model, data, config):
    time.sleep(3600)
