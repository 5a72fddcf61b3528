"""A layer TFLite Micro cannot run fails the build before any work: exit 2, the layer named, nothing written."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def gelu_model(tmp_path_factory):
    import numpy as np

    from edge_sdk import deps

    tfk = deps.tf_keras()
    model = tfk.Sequential(
        [tfk.layers.Input((8, 8, 1), name="image"), tfk.layers.Flatten(), tfk.layers.Dense(16, name="hidden"),
         tfk.layers.Activation("gelu", name="gelu_act"), tfk.layers.Dense(10, activation="softmax", name="probs")]
    )
    d = tmp_path_factory.mktemp("gelu")
    model.save(d / "gelu.keras")
    np.savez(d / "cal.npz", x=np.random.default_rng(0).random((20, 8, 8, 1), dtype=np.float32))
    return d


def test_tflm_unsupported_op_exits_2_naming_the_layer(cli, gelu_model):
    out = gelu_model / "out"
    proc = cli("build", "--model", str(gelu_model / "gelu.keras"), "--calibration", str(gelu_model / "cal.npz"),
               "--target", "cortex-m", "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "gelu_act" in proc.stderr and "GELU" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists(), "nothing may be written when the target cannot run the model"


def test_same_model_builds_where_the_op_is_supported(cli, gelu_model):
    proc = cli("plan", "--model", str(gelu_model / "gelu.keras"), "--target", "android", "--json")
    assert proc.returncode == 0, proc.stderr
