"""TFLite Micro exporter: digits verified on the TFLM interpreter, generated C++ sources, measured arena,
the unsupported-op refusal (nothing written) and determinism."""

from __future__ import annotations

import re

import pytest

from edge_sdk.errors import ExportError, UnsupportedOpError
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tflm_artifact(digits_loaded, cortex_m_profile, digits_calibration, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflm")
    config = ExportConfig(precision="int8", io_dtype="int8", calibration=digits_calibration, arena_margin=0.25)
    return FORMATS.get("tflm")(digits_loaded, cortex_m_profile, config, out), config, out


def test_files_and_arena(tflm_artifact):
    artifact, _, out = tflm_artifact
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "model_data.cc", "model_data.h", "op_resolver.h"]
    measured, arena = artifact.arena.basis_bytes, artifact.arena.bytes
    assert artifact.arena.measured and measured == artifact.arena.head_bytes + artifact.arena.tail_bytes
    assert arena % 16 == 0 and measured * 1.25 <= arena < measured * 1.25 + 16
    header = (out / "model_data.h").read_text()
    assert f"constexpr size_t kTensorArenaSize = {arena};" in header
    cc = (out / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_digits_cnn_model_data[]" in cc
    body = re.search(r"\{\n(.*)\n\};", cc, re.S).group(1)
    assert bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", body)) == artifact.path.read_bytes()
    assert f"g_digits_cnn_model_data_len = {artifact.bytes};" in cc


def test_op_resolver_registers_exactly_the_ops(tflm_artifact):
    artifact, _, out = tflm_artifact
    text = (out / "op_resolver.h").read_text()
    calls = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert calls == ["AddConv2D", "AddMaxPool2D", "AddReshape", "AddFullyConnected", "AddSoftmax"]
    assert "MicroMutableOpResolver<kNumOps>" in text and "kNumOps = 5;" in text
    assert artifact.details["ops"] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]


def test_verified_on_tflm_interpreter(tflm_artifact, digits_loaded, digits_eval):
    artifact = tflm_artifact[0]
    v = check(verify(artifact, digits_loaded, digits_eval))
    assert v.runtime == "tflm" and v.method == "executed"
    assert v.fidelity.top1_agreement >= 0.98
    assert v.measured["vs_litert-reference"]["identical"], v.measured  # TFLM = LiteRT reference kernels, bit for bit
    assert v.measured["arena_bytes"] == artifact.arena.basis_bytes


def test_deterministic(tflm_artifact, digits_loaded, cortex_m_profile, tmp_path):
    artifact, config, out = tflm_artifact
    again = FORMATS.get("tflm")(digits_loaded, cortex_m_profile, config, tmp_path)
    for name in ("model.tflite", "model_data.cc", "model_data.h", "op_resolver.h"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert again.sha256 == artifact.sha256


def test_int16x8_runs_on_tflm_with_int16_io_and_its_estimates_hold(tflm_artifact, digits_loaded, digits_eval,
                                                                      cortex_m_profile, digits_calibration, tmp_path):
    """16x8: int16 activations and I/O (no float tensor on an integer-only target), int8 weights, int64
    bias; executed on the TFLM interpreter, within kernel rounding of LiteRT's reference kernels (its
    int16 softmax rounds a few 16-bit steps apart), closer to the float model than int8. The cost model's flash, arena and latency for it are checked here against
    what was built, next to int8's."""
    from edge_sdk import analyze
    from edge_sdk.formats.common.flatbuffer import read_graph
    from edge_sdk.planner.estimate import estimate

    config = ExportConfig(precision="int16x8", io_dtype="int16", calibration=digits_calibration, arena_margin=0.25)
    artifact = FORMATS.get("tflm")(digits_loaded, cortex_m_profile, config, tmp_path)
    graph = read_graph(artifact.path.read_bytes())
    assert artifact.precision == "int16x8"
    assert artifact.details["input_dtype"] == artifact.details["output_dtype"] == "int16"
    assert {graph.tensors[t].dtype for op in graph.ops for t in op.inputs + op.outputs} <= {"int16", "int8", "int64", "int32"}
    v16 = check(verify(artifact, digits_loaded, digits_eval))
    v8 = check(verify(tflm_artifact[0], digits_loaded, digits_eval))
    assert v16.runtime == "tflm" and v16.method == "executed" and v16.measured["vs_litert-reference"]["within_rounding"]
    assert v16.fidelity.sqnr_db > v8.fidelity.sqnr_db + 6, (v16.fidelity, v8.fidelity)  # 8 more bits: far less noise
    info = analyze(digits_loaded)
    est16, est8 = (estimate(info, cortex_m_profile, fmt="tflm", precision=p) for p in ("int16x8", "int8"))
    assert artifact.arena.basis_bytes > tflm_artifact[0].arena.basis_bytes
    assert abs(est16.arena_bytes / artifact.arena.basis_bytes - 1) < 0.25, (est16.arena_bytes, artifact.arena.basis_bytes)
    assert abs(est16.flash_bytes / artifact.bytes - 1) < 0.15, (est16.flash_bytes, artifact.bytes)
    assert est16.latency_ms["cpu"] > est8.latency_ms["cpu"]


def test_float_precision_refused(digits_loaded, cortex_m_profile, tmp_path):
    with pytest.raises(ExportError, match=r"full-integer \(int8, int16x8\)"):
        FORMATS.get("tflm")(digits_loaded, cortex_m_profile, ExportConfig(precision="float16"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_op_names_layer_and_writes_nothing(cortex_m_profile, digits_calibration, tmp_path):
    """GELU converts to the TFLite builtin GELU, which TFLM has no kernel for (checked below on the real
    TFLM interpreter too)."""
    from edge_sdk import deps, load_model

    keras = deps.tf_keras()
    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.Activation("gelu", name="smooth_gate")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = load_model(keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="probs")(x)))
    config = ExportConfig(precision="int8", io_dtype="int8", calibration=digits_calibration)
    with pytest.raises(UnsupportedOpError, match=r"layer 'smooth_gate' converts to TFLite op GELU"):
        FORMATS.get("tflm")(model, cortex_m_profile, config, tmp_path)
    assert list(tmp_path.iterdir()) == []
    # the refusal is real: the TFLM interpreter itself cannot load that op
    from edge_sdk.formats.tflite.exporter import convert
    from edge_sdk.formats.tflm.runner import interpreter

    flatbuffer, _ = convert(model, config, "tflite")
    with pytest.raises(UnsupportedOpError, match="GELU"):
        interpreter(flatbuffer)


def test_the_harness_arena_allocates_and_runs_the_model_exactly(tflm_artifact):
    from edge_sdk.formats.tflm.arena_search import required_arena
    from edge_sdk.formats.tflm.runner import fits_in_arena

    artifact = tflm_artifact[0]
    flatbuffer = artifact.path.read_bytes()
    assert fits_in_arena(flatbuffer, artifact.arena.bytes)  # kTensorArenaSize, as the firmware gets it
    needed = required_arena(flatbuffer, 1024)  # searched up from far too small
    assert fits_in_arena(flatbuffer, needed) and not fits_in_arena(flatbuffer, needed - 16)
    assert artifact.arena.basis_bytes >= needed
