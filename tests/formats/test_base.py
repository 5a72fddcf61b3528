"""Shared format plumbing: third-party conversion errors become ExportError chained to the original."""

from __future__ import annotations

import pytest

from edge_sdk.errors import ExportError
from edge_sdk.formats.base import export_errors


def test_export_errors_keep_the_cause_and_show_its_first_line():
    with pytest.raises(ExportError, match=r"^conversion failed: op FOO is not supported$") as info:
        with export_errors("conversion failed"):
            raise ValueError("op FOO is not supported\n  (converter internals)")
    assert isinstance(info.value.__cause__, ValueError)


def test_export_errors_name_the_type_of_a_silent_error():
    with pytest.raises(ExportError, match=r"^lowering failed: RuntimeError$"):
        with export_errors("lowering failed"):
            raise RuntimeError()
