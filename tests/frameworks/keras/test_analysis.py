"""Analysis: params equal the framework's count, MACs equal a hand count, peak activations follow tensor
lifetimes, and the TFLite analysis of the converted digits model agrees with the Keras analysis."""

from __future__ import annotations

import pytest

from edge_sdk import analyze
from edge_sdk.errors import ModelLoadError
from edge_sdk.contracts.model import LoadedModel, TensorSpec


@pytest.fixture(scope="module")
def tfk():
    from edge_sdk import deps

    return deps.tf_keras()


@pytest.fixture(scope="module")
def digits_info(digits_loaded):
    return analyze(digits_loaded)


def _wrap(model):
    from edge_sdk.model import load_model

    return load_model(model)


def test_digits_params_equal_keras_count(digits_loaded, digits_info):
    assert digits_info.params == digits_loaded.handle.count_params() == 40_458
    assert sum(l.params for l in digits_info.layers) == digits_info.params


def test_digits_macs_match_hand_count(digits_info):
    hand = (
        8 * 8 * 16 * (3 * 3 * 1)  # conv1: out HxWxC x k*k*Cin
        + 8 * 8 * 32 * (3 * 3 * 16)  # conv2
        + 4 * 4 * 64 * (3 * 3 * 32)  # conv3 (after 2x2 pool)
        + 256 * 64  # fc1
        + 64 * 10  # probs
    )
    assert hand == 616_064
    assert abs(digits_info.macs - hand) <= 0.01 * hand
    by_name = {l.name: l for l in digits_info.layers}
    assert by_name["conv2"].macs == 294_912
    assert by_name["pool1"].macs == 0 and by_name["pool1"].other_ops == 4 * 4 * 32 * 4  # pooling counted apart


def test_digits_layers_graph_and_runtime_ops(digits_info):
    by_name = {l.name: l for l in digits_info.layers}
    assert [l.name for l in digits_info.layers][:3] == ["image", "conv1", "bn1"]
    assert by_name["conv1"].inputs == ("image",)
    assert by_name["conv1"].kind == "conv" and by_name["fc1"].kind == "dense"
    assert by_name["conv1"].runtime_ops["tflite"] == ("CONV_2D",)
    assert by_name["bn1"].runtime_ops["tflite"] == ()  # folded into conv1
    assert by_name["relu1"].runtime_ops["tflite"] == ()  # fused activation of conv1
    assert by_name["conv2"].runtime_ops["tflite"] == ("CONV_2D",)  # activation="relu" fused
    assert by_name["dropout"].runtime_ops == {"tflite": (), "coreml": (), "onnx": ()}
    assert by_name["flatten"].runtime_ops == {"tflite": ("RESHAPE",), "coreml": ("reshape",), "onnx": ("Reshape",)}
    assert by_name["probs"].runtime_ops["onnx"] == ("MatMul", "Add", "Softmax")  # tf2onnx's Dense + softmax
    assert by_name["probs"].runtime_ops["tflite"] == ("FULLY_CONNECTED", "SOFTMAX")
    assert by_name["probs"].runtime_ops["coreml"] == ("linear", "softmax")
    assert by_name["conv2"].output_shapes == ((1, 8, 8, 32),)
    assert by_name["conv2"].activation_bytes("int8") == 8 * 8 * 32
    assert digits_info.output_names == ("probs",)


def test_digits_peak_is_liveness_not_sum(digits_info):
    # conv2 reads conv1's tensor (bn1 and relu1 fold into conv1) while writing its own: 1024 + 2048
    assert digits_info.peak_activation_elems == 8 * 8 * 16 + 8 * 8 * 32
    assert digits_info.peak_activation_elems < sum(l.output_elems for l in digits_info.layers)


def _mixed_model(tfk):
    L = tfk.layers
    inner = tfk.Sequential([L.Input((8, 8, 8)), L.Conv2D(8, 1, name="pw")], name="inner")
    x = L.Input((8, 8, 3), name="x")
    a = L.Conv2D(8, 3, padding="same", name="a")(x)
    p = inner(a)
    d = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(p)
    s = L.SeparableConv2D(8, 3, padding="same", name="sep")(d)
    b = L.BatchNormalization(name="bn")(s)
    r = L.Add(name="res")([a, b])
    c = L.Concatenate(name="cat")([r, a])
    t = L.Conv2DTranspose(4, 2, strides=2, name="up")(c)
    g = L.GlobalAveragePooling2D(name="gap")(t)
    y = L.Dense(3, activation="softmax", name="out")(g)
    return tfk.Model(x, y, name="mixed")


def test_functional_depthwise_separable_residual(tfk):
    model = _mixed_model(tfk)
    info = analyze(_wrap(model))
    hand_params = (
        (3 * 3 * 3 * 8 + 8)  # a
        + (8 * 8 + 8)  # inner/pw
        + (3 * 3 * 8 * 2 + 16)  # dw, depth multiplier 2
        + (3 * 3 * 16 + 16 * 8 + 8)  # sep: depthwise + pointwise + bias
        + 4 * 8  # bn: gamma, beta, moving mean, moving variance
        + (2 * 2 * 4 * 16 + 4)  # up: k*k*Cout*Cin + bias
        + (4 * 3 + 3)  # out
    )
    assert info.params == model.count_params() == hand_params
    hand_macs = (
        8 * 8 * 8 * 3 * 3 * 3  # a
        + 8 * 8 * 8 * 8  # inner/pw
        + 8 * 8 * 16 * 3 * 3  # dw: out pixels x channels x k*k
        + 8 * 8 * 16 * 3 * 3 + 8 * 8 * 16 * 8  # sep: depthwise + pointwise
        + 8 * 8 * 16 * 2 * 2 * 4  # up: every input pixel scatters k*k*Cout
        + 4 * 3  # out
    )
    assert abs(info.macs - hand_macs) <= 0.01 * hand_macs
    by_name = {l.name: l for l in info.layers}
    assert "inner/pw" in by_name and by_name["inner/pw"].inputs == ("a",)  # nested model flattened
    assert by_name["dw"].inputs == ("inner/pw",)
    assert by_name["res"].inputs == ("a", "bn") and by_name["cat"].inputs == ("res", "a")
    assert by_name["dw"].kind == "depthwise" and by_name["sep"].kind == "separable"
    assert by_name["sep"].runtime_ops["tflite"] == ("DEPTHWISE_CONV_2D", "CONV_2D")
    assert by_name["bn"].runtime_ops["tflite"] == ()  # folded into sep
    assert by_name["up"].runtime_ops["tflite"] == ("TRANSPOSE_CONV",)
    assert by_name["gap"].runtime_ops == {"tflite": ("MEAN",), "coreml": ("reduce_mean",),
                                          "onnx": ("GlobalAveragePool", "Squeeze")}
    assert by_name["cat"].runtime_ops["tflite"] == ("CONCATENATION",)
    assert by_name["res"].other_ops == 8 * 8 * 8  # elementwise work reported apart from MACs


def test_peak_with_skip_connection_hand_count(tfk):
    L = tfk.layers
    x = L.Input((8, 8, 3), name="x")
    a = L.Conv2D(4, 3, padding="same", name="a")(x)
    b = L.Conv2D(4, 3, padding="same", name="b")(a)
    b = L.Dropout(0.5, name="drop")(b)  # no-op at inference: aliases b
    s = L.Add(name="add")([a, b])
    y = L.Dense(2, name="out")(L.GlobalAveragePooling2D(name="gap")(s))
    info = analyze(_wrap(tfk.Model(x, y)))
    # step:   x     a      b      drop   add          gap     out
    # live:   x=192 x+a    a+b    a+b    a+b+add      add+gap gap+out
    #         192   448    512    512    256*3 = 768  260     6
    assert info.peak_activation_elems == 768
    assert info.peak_activation_bytes("float32") == 768 * 4
    assert sum(l.output_elems for l in info.layers) > 768  # not the sum of all activations


def test_subclassed_model_is_refused_with_the_fix(tfk):
    class Net(tfk.Model):
        def __init__(self):
            super().__init__()
            self.fc = tfk.layers.Dense(2)

        def call(self, x):
            return self.fc(x)

    net = Net()
    net(tfk.Input((3,)))
    loaded = LoadedModel("keras", net, (TensorSpec("x", (None, 3)),), (), "memory")
    with pytest.raises(ModelLoadError, match="functional API"):
        analyze(loaded)


@pytest.mark.slow
def test_tflite_int8_analysis_matches_keras(digits_loaded, digits_info):
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import load_dataset
    from tests.conftest import DIGITS_CALIBRATION

    calibration = load_dataset(DIGITS_CALIBRATION, digits_loaded.inputs, max_samples=50)
    flatbuffer, _ = convert_to_tflite(digits_loaded.handle, QuantSpec("int8", io_dtype="int8", max_samples=50), calibration)
    loaded = LoadedModel("tflite", flatbuffer, (TensorSpec("image", (1, 8, 8, 1), "int8"),), (), "tflite")
    info = analyze(loaded)
    assert abs(info.macs - digits_info.macs) <= 0.01 * digits_info.macs
    ops = [l.op for l in info.layers if l.kind != "input"]
    assert ops == ["CONV_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
                   "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert info.dtypes == ("int8",)
    assert info.peak_activation_elems == digits_info.peak_activation_elems  # same folding as the converter
    # TFLM's memory planner places exactly the activations the liveness analysis says are live at once
    from edge_sdk.formats.tflm.runner import measure_arena

    assert measure_arena(flatbuffer)["arena_head_bytes"] == digits_info.peak_activation_bytes("int8")
    # BatchNormalization is folded into conv1's weights, so the flatbuffer holds fewer constants
    assert info.params < digits_info.params
    conv = next(l for l in info.layers if l.op == "CONV_2D")
    assert conv.weight_shapes[0] == (16, 3, 3, 1) and conv.inputs == ("image",)


def _many_layer_types(tfk):
    L = tfk.layers
    seq = L.Input((16, 3), name="seq")
    c = L.Conv1D(4, 3, padding="same", activation="relu", name="c1")(seq)
    g = L.GlobalAveragePooling1D(name="g")(L.MaxPooling1D(2, name="mp")(c))
    img = L.Input((8, 8, 2), name="img")
    k = L.Conv2D(4, 3, name="k")(L.ZeroPadding2D(2, name="zp")(img))
    r = L.ReLU(max_value=6.0, name="r6")(L.BatchNormalization(name="b")(k))
    up = L.UpSampling2D(2, name="us")(L.AveragePooling2D(2, name="ap")(r))
    cat = L.Concatenate(name="cc")([g, L.GlobalMaxPooling2D(name="gm")(up)])
    d = L.Dense(5, activation="sigmoid", name="d")(cat)
    lr = L.LeakyReLU(name="lr")(L.Dense(5, name="e")(d))
    return tfk.Model([seq, img], L.Multiply(name="mul")([lr, d]))


@pytest.mark.slow
def test_runtime_ops_match_the_tflite_converter(tfk):
    """The TFLite ops predicted per Keras layer (with BN/ReLU6 folding) are the ops the converter emits."""
    from collections import Counter

    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite

    model = _many_layer_types(tfk)
    info = analyze(_wrap(model))
    predicted = Counter(op for l in info.layers for op in l.runtime_ops["tflite"])
    flatbuffer, _ = convert_to_tflite(model, QuantSpec("float32"))
    converted = analyze(LoadedModel("tflite", flatbuffer, (), (), "tflite"))
    emitted = Counter(l.op for l in converted.layers if l.kind != "input")
    assert predicted == emitted
    assert info.macs == converted.macs
    assert info.params == model.count_params()


def test_a_none_sequence_dim_is_analyzed_at_the_longest_length_of_the_build_data(tfk):
    """Keras cannot bound `Input((None,))`; the build fixes it at the longest length its data has (the
    length the app pads to), so MACs and activations are those of 96 tokens, not of 1."""
    import numpy as np

    from edge_sdk.pipeline.prepare import load_build_data, lengths_from_data

    inp = tfk.Input((None,), dtype="int32", name="input_ids")
    h = tfk.layers.Embedding(100, 8, name="embed")(inp)  # named: Keras numbers unnamed layers per process
    h = tfk.layers.Conv1D(16, 3, padding="same", name="conv")(h)
    out = tfk.layers.Dense(4, name="head")(tfk.layers.GlobalAveragePooling1D(name="pool")(h))
    loaded = _wrap(tfk.Model(inp, out))
    assert loaded.inputs[0].shape == (None, None)
    tokens = {n: np.zeros((4, n), np.int32) for n in (64, 96)}
    data = load_build_data(loaded, {"input_ids": tokens[64]}, None, {"input_ids": tokens[96]})
    at_data = lengths_from_data(loaded, data)
    assert at_data.inputs[0].ranges == (None, (96, 96)) and at_data.inputs[0].shape == (None, None)
    unfixed, fixed = analyze(loaded), analyze(at_data)
    conv = {l.name: l for l in fixed.layers}["conv"]
    assert conv.output_shapes == ((1, 96, 16),) and conv.macs == 96 * 16 * 3 * 8
    assert fixed.macs == 96 * (unfixed.macs - 16 * 4) + 16 * 4  # everything but the head scales with length
    assert fixed.params == unfixed.params


def test_a_nested_model_is_analyzed_at_the_length_its_caller_feeds_it(tfk):
    """A sub-model keeps its own `Input((None, 8))` when the outer model is cloned at 96 tokens; its
    layers must still be counted at 96, not at 1."""
    import numpy as np

    from edge_sdk.pipeline.prepare import load_build_data, lengths_from_data

    inner_in = tfk.Input((None, 8), name="inner_in")
    encoder = tfk.Model(inner_in, tfk.layers.Conv1D(16, 3, padding="same", name="conv")(inner_in), name="encoder")
    inp = tfk.Input((None,), dtype="int32", name="input_ids")
    h = encoder(tfk.layers.Embedding(100, 8, name="embed")(inp))
    out = tfk.layers.Dense(4, name="head")(tfk.layers.GlobalAveragePooling1D(name="pool")(h))
    loaded = _wrap(tfk.Model(inp, out))
    tokens = np.zeros((4, 96), np.int32)
    fixed = analyze(lengths_from_data(loaded, load_build_data(loaded, {"input_ids": tokens}, None, None)))
    conv = {l.name: l for l in fixed.layers}["encoder/conv"]
    assert conv.output_shapes == ((1, 96, 16),) and conv.macs == 96 * 16 * 3 * 8
    assert fixed.params == loaded.handle.count_params()


@pytest.mark.slow
def test_attention_and_tf_op_layers_are_analyzed_as_the_converter_lowers_them(tfk):
    """A Keras transformer block (MultiHeadAttention, `x + y` as a TFOpLambda) is known to the fit
    check with the ops and MACs the TFLite converter gives it, not refused as `?MultiHeadAttention`."""
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite

    L = tfk.layers
    seq = L.Input((12, 16), batch_size=1, name="seq")
    mem = L.Input((7, 10), batch_size=1, name="mem")
    h = seq + L.MultiHeadAttention(num_heads=2, key_dim=8, name="self_attn")(seq, seq)
    h = h * 0.5 + L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=6, name="cross_attn")(h, mem)
    model = tfk.Model([seq, mem], L.Dense(3, name="head")(h))
    info = analyze(_wrap(model))
    by_name = {l.name: l for l in info.layers}
    assert by_name["self_attn"].kind == "matmul" and not any(op.startswith("?") for l in info.layers
                                                              for fmt in ("tflite", "coreml", "onnx")
                                                              for op in l.runtime_ops[fmt])
    flatbuffer, _ = convert_to_tflite(model, QuantSpec("float32"))
    converted = analyze(LoadedModel("tflite", flatbuffer, (), (), "tflite"))
    assert {op for l in info.layers for op in l.runtime_ops["tflite"]} == {l.op for l in converted.layers if l.kind != "input"}
    assert info.macs == converted.macs
    assert info.params == model.count_params()
