"""Techniques that fail the ways a real trained rung can: loaded as a plugin (EDGE_SDK_PLUGINS) by the
isolation tests, in the CLI's process and in every worker."""

from __future__ import annotations

import os
import signal
import time

from edge_sdk.compress.base import register_technique


@register_technique("test-segfault")
def segfault(model, data, config):
    print("about to crash natively", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)


@register_technique("test-bug")
def bug(model, data, config):
    return {}["a key our own code forgot"]


@register_technique("test-hang")
def hang(model, data, config):
    time.sleep(3600)
