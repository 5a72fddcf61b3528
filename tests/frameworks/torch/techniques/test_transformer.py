"""A small transformer (embedding + causal attention + MLP) with dynamic int8: linear layers dynamic
int8, embedding tables int8 weight-only; the mask and index arithmetic must survive."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from edge_sdk.data import load_dataset
from edge_sdk.frameworks.torch.techniques import ptq as torch_ptq
from edge_sdk.model import load_model
from edge_sdk.techniques.base import TechniqueData
from tests.frameworks.torch.helpers import export_pte, verify_pte
from tests.frameworks.torch.models import SEQ, tiny_transformer, token_batches

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def transformer():
    return load_model((tiny_transformer(), (token_batches(2),)))


@pytest.fixture(scope="module")
def tokens(transformer):
    return load_dataset({"tokens": token_batches(48).numpy()}, transformer.inputs)


def test_dynamic_int8_pte_cosine_and_size(transformer, tokens, android, tmp_path):
    data = TechniqueData(train=tokens, calibration=tokens, teacher=transformer)
    quantized, record = torch_ptq.apply(transformer, data, {"mode": "dynamic-int8"})
    assert record.metrics["quantized_ops"] == {"embedding": 2, "linear": 5}
    # integer index arithmetic stayed integer and the causal mask stayed float
    graph = quantized.handle.graph
    arange = [n for n in graph.nodes if "arange" in str(n.target)]
    assert arange and all(n.meta["val"].dtype == torch.int64 for n in arange)
    assert not any("quantize" in str(u.target) for n in arange for u in n.users)
    art = export_pte(quantized, android, tmp_path / "int8")
    fp32 = export_pte(transformer, android, tmp_path / "fp32")
    assert art.precision == "dynamic-int8"
    v = verify_pte(art, transformer, tokens)
    assert v.method == "executed" and v.fidelity.cosine >= 0.99, v.fidelity
    # embeddings are ~25% of the weights: the file shrinks well beyond what int8 linears alone give
    assert art.bytes <= 0.5 * fp32.bytes, (art.bytes, fp32.bytes)
    # a causal model: the last position's output must not depend on later tokens -> change the first token instead
    x = token_batches(1).numpy()
    y = x.copy()
    y[0, 0] = (y[0, 0] + 1) % 10
    from edge_sdk.formats.executorch.runner import run_pte

    a, b = (run_pte(art, {"tokens": np.repeat(v_, 2, axis=0)})[0] for v_ in (x, y))
    assert not np.allclose(a, b) and a.shape == (2, 64) and SEQ == 16
    # a fresh process (a bench run, a worker that got the step from the cache) loads it too: the
    # quantized embedding kernels are registered by the runner, not by having quantized in-process
    np.savez(tmp_path / "x.npz", tokens=np.repeat(x, 2, axis=0))
    script = ("import sys, types, numpy as np; from edge_sdk.formats.executorch.runner import run_pte; "
              f"art = types.SimpleNamespace(path=sys.argv[1], details={{'batch': {art.details.get('batch', 1)}}}); "
              "print(run_pte(art, dict(np.load(sys.argv[2])))[0].shape)")
    proc = subprocess.run([sys.executable, "-c", script, str(art.path), str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert proc.returncode == 0 and "(2, 64)" in proc.stdout, proc.stderr[-2000:]
    # ... and so does the board runner `edge-sdk bench` ships (it failed with "Missing operator ... embedding_byte.out")
    from edge_sdk.devices.address import parse_address
    from edge_sdk.devices.base import BenchConfig
    from edge_sdk.devices.host import run as host_run

    bench = host_run(art, parse_address("host"), BenchConfig(runs=3, warmup=1))
    assert bench.complete and bench.runs == 3 and bench.raw["start"]["runtime"] == "executorch"


def test_static_int8_keeps_the_residual_stream_and_attention_math_float(transformer, tokens):
    """XNNPACK's static config quantizes add/mul/cat outputs too; on an attention model only the linear
    layers are quantized (and the embedding tables, row by row)."""
    data = TechniqueData(train=tokens, calibration=tokens, teacher=transformer)
    quantized, record = torch_ptq.apply(transformer, data, {"mode": "int8", "max_samples": 16})
    assert record.params["quantized"] == "linear and conv only (attention model)"
    graph = quantized.handle.graph
    # XNNPACK's default quantizes the residual adds' outputs, so the layer norms read int8 values
    norms = [n for n in graph.nodes if "layer_norm" in str(n.target)]
    assert norms and not any("dequantize" in str(n.args[0].target) for n in norms)
    assert any("dequantize" in str(a.target) for n in graph.nodes if "linear" in str(n.target) for a in n.all_input_nodes)
    assert record.metrics["quantized_ops"]["embedding"] == 2


def test_four_bit_embedding_tables_run_on_the_executorch_runtime(transformer, tokens, android, tmp_path):
    """embedding_bits 4: the token table (looked up by the input) becomes embedding_4bit; the position
    table (looked up by arange: folded to a constant at export) stays 8-bit. Smaller than the 8-bit
    tables, still close to fp32, and loadable by the runner."""
    data = TechniqueData(train=tokens, calibration=tokens, teacher=transformer)
    four, record = torch_ptq.apply(transformer, data, {"mode": "dynamic-int8", "embedding_bits": 4})
    assert record.metrics["embedding_4bit_tables"] == ["tok.weight"]
    assert record.metrics["quantized_ops"]["embedding_4bit"] == 1 and record.metrics["quantized_ops"]["embedding"] == 1
    eight, _ = torch_ptq.apply(transformer, data, {"mode": "dynamic-int8"})
    art4, art8 = export_pte(four, android, tmp_path / "four"), export_pte(eight, android, tmp_path / "eight")
    # the token table: 64 x 32 values at 8 bits + 2 float row params -> 4 bits + one float scale per 32 values
    assert art8.bytes - art4.bytes >= 64 * 32 // 2, (art8.bytes, art4.bytes)
    v = verify_pte(art4, transformer, tokens)
    assert v.method == "executed" and v.fidelity.cosine >= 0.99, v.fidelity


def test_four_bit_embedding_rung_is_offered_for_tables_the_inputs_index(transformer, android):
    from edge_sdk.frameworks.torch.analysis import analyze_torch
    from edge_sdk.frameworks.torch.rungs import rungs
    from edge_sdk.frameworks.torch.techniques.embedding_4bit import BYTES_PER_VALUE

    info = analyze_torch(transformer)
    ladder = {r.name: r for r in rungs(info, android, "pte", allows_float=True)}
    rung = ladder["dynamic-int8-emb4"]
    assert rung.steps[0].params == {"mode": "dynamic-int8", "embedding_bits": 4}
    # only the token table (64 x 32) is charged at 4.5 bits; the position table is indexed by arange
    assert rung.params_scale == pytest.approx(1 - 64 * 32 * (1 - BYTES_PER_VALUE) / info.params)
    assert "dynamic-int8-emb4" not in {r.name for r in rungs(info, android, "pte", allows_float=False)}


LINEAR_WEIGHTS = 96 * 32 + 32 * 32 + 128 * 32 + 32 * 128 + 64 * 32  # qkv, proj, mlp (2), head: all even widths


def test_four_bit_linear_weights_pack_two_per_byte_and_run_on_the_executorch_runtime(transformer, tokens, android, tmp_path):
    """weight_bits 4: every linear layer 4-bit per output channel (XNNPACK's qd8-f32-qc4w kernels),
    packed two values per byte in the .pte, and still close to fp32 on the real runtime."""
    data = TechniqueData(train=tokens, calibration=tokens, teacher=transformer)
    four, record = torch_ptq.apply(transformer, data, {"mode": "dynamic-int8", "weight_bits": 4})
    assert record.params["weight_bits"] == 4 and record.metrics["quantized_ops"]["linear"] == 5
    eight, _ = torch_ptq.apply(transformer, data, {"mode": "dynamic-int8"})
    art4, art8 = export_pte(four, android, tmp_path / "four"), export_pte(eight, android, tmp_path / "eight")
    assert art4.details["delegation"]["portable_ops"].keys() == art8.details["delegation"]["portable_ops"].keys()
    assert art8.bytes - art4.bytes >= 0.45 * LINEAR_WEIGHTS, (art8.bytes, art4.bytes)  # half a byte per weight
    v = verify_pte(art4, transformer, tokens)
    assert v.method == "executed" and v.fidelity.cosine >= 0.98, v.fidelity


def test_four_bit_linear_weights_need_dynamic_activations(transformer, tokens):
    from edge_sdk.errors import ConfigError

    data = TechniqueData(train=tokens, calibration=tokens, teacher=transformer)
    with pytest.raises(ConfigError, match="weight_bits 4 runs with mode dynamic-int8 only"):
        torch_ptq.apply(transformer, data, {"mode": "int8", "weight_bits": 4})


def test_four_bit_linear_rung_follows_the_dynamic_rungs_and_counts_half_a_byte_per_weight(transformer, android):
    from edge_sdk.frameworks.torch.analysis import analyze_torch
    from edge_sdk.frameworks.torch.rungs import rungs
    from edge_sdk.frameworks.torch.techniques.embedding_4bit import BYTES_PER_VALUE

    info = analyze_torch(transformer)
    names = [r.name for r in rungs(info, android, "pte", allows_float=True)]
    assert names[:5] == ["fp32", "fp16", "dynamic-int8", "dynamic-int8-emb4", "dynamic-int8-w4"], names
    rung = rungs(info, android, "pte", allows_float=True)[4]
    assert rung.steps[0].params == {"mode": "dynamic-int8", "weight_bits": 4, "embedding_bits": 4}
    assert rung.params_scale == pytest.approx(1 - (64 * 32 * (1 - BYTES_PER_VALUE) + LINEAR_WEIGHTS * 0.5) / info.params)
    assert "dynamic-int8-w4" not in {r.name for r in rungs(info, android, "pte", allows_float=False)}
