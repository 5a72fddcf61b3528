"""Keras 3 -> tf_keras bridge: every supported layer family, in Sequential and Functional models, gives
the same outputs (max abs diff <= 1e-5) with random weights (BN moving stats included) on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.frameworks.keras import bridge as keras_bridge

TOL = 1e-5
k = deps.keras3()
L = k.layers


def randomize(model, seed: int = 0) -> None:
    """Random weights everywhere; variances positive so BatchNormalization stats are non-trivial."""
    rng = np.random.default_rng(seed)
    for var in model.weights:
        shape, name = tuple(var.shape), var.path.split("/")[-1]
        if "variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif name == "count":
            value = np.asarray(10)
        else:
            value = rng.normal(0.0, 0.5, shape)
        var.assign(value.astype(var.dtype))
    for layer in model._flatten_layers():
        if hasattr(layer, "finalize_state") and layer.weights:  # Normalization caches its mean/variance
            layer.finalize_state()


def assert_bridged_equal(model, *, seed: int = 1, batch: int = 3, low: float = -2.0, high: float = 2.0):
    bridged = keras_bridge.bridge_model(model)
    assert type(bridged).__module__.startswith("tf_keras"), type(bridged)
    rng = np.random.default_rng(seed)
    feeds = [rng.uniform(low, high, (batch, *t.shape[1:])).astype("float32") for t in model.inputs]
    feed = feeds if len(feeds) > 1 else feeds[0]
    ref = model.predict(feed, verbose=0)
    got = bridged.predict(feed, verbose=0)
    ref, got = (ref, got) if isinstance(ref, list) else ([ref], [got])
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert r.shape == g.shape
        assert float(np.max(np.abs(r))) > 0.0  # a model that outputs zeros would prove nothing
        assert float(np.max(np.abs(r - g))) <= TOL
    originals = {layer.name for layer in model.layers}
    assert originals <= {layer.name for layer in bridged.layers}
    assert bridged.count_params() == model.count_params()
    return bridged


# name -> (input shape, factory of the layer stack)
SINGLE_INPUT_FAMILIES = {
    "conv2d": ((9, 9, 3), lambda: [L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                                  L.Conv2D(6, (3, 1), dilation_rate=2, use_bias=False),
                                  L.Conv2D(6, 1, groups=2)]),
    "depthwise_conv2d": ((8, 8, 4), lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
                                            L.DepthwiseConv2D(3, strides=2)]),
    "separable_conv2d": ((8, 8, 3), lambda: [L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")]),
    "dense": ((7,), lambda: [L.Dense(5, activation="tanh"), L.Dense(3, use_bias=False)]),
    "batch_normalization": ((6, 6, 3), lambda: [L.Conv2D(4, 1), L.BatchNormalization(), L.BatchNormalization(
        epsilon=1e-2, center=False, scale=False)]),
    "relu": ((10,), lambda: [L.ReLU(), L.Dense(8), L.ReLU(max_value=6.0), L.Dense(8),
                             L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)]),
    "activation": ((12,), lambda: [L.Dense(12)] + [L.Activation(a) for a in (
        "relu6", "hard_silu", "hard_swish", "hard_sigmoid", "silu", "swish", "gelu", "elu", "selu",
        "softplus", "softsign", "leaky_relu", "tanh", "sigmoid", "mish", "linear", "log_softmax", "softmax")]),
    "advanced_activations": ((12,), lambda: [L.LeakyReLU(negative_slope=0.2), L.ELU(alpha=0.5),
                                             L.PReLU(), L.Softmax(axis=-1)]),
    "max_pooling2d": ((8, 8, 2), lambda: [L.MaxPooling2D(), L.MaxPooling2D(3, strides=1, padding="same")]),
    "average_pooling2d": ((8, 8, 2), lambda: [L.AveragePooling2D(2), L.AveragePooling2D(3, 1, padding="same")]),
    "global_pooling2d": ((6, 6, 3), lambda: [L.Conv2D(4, 1), L.GlobalAveragePooling2D(keepdims=True),
                                             L.GlobalMaxPooling2D()]),
    "reshape": ((4, 4, 2), lambda: [L.Reshape((8, 4)), L.Reshape((-1,))]),
    "flatten": ((3, 3, 2), lambda: [L.Conv2D(2, 1), L.Flatten(), L.Dense(3)]),
    "dropout": ((8,), lambda: [L.Dense(8), L.Dropout(0.5), L.Dense(4), L.Dropout(0.1)]),
    "zero_padding2d": ((5, 5, 2), lambda: [L.ZeroPadding2D(2), L.ZeroPadding2D(((1, 0), (0, 2))), L.Conv2D(2, 3)]),
    "rescaling": ((4, 4, 3), lambda: [L.Rescaling(1 / 127.5, offset=-1.0), L.Rescaling([0.5, 1.0, 2.0])]),
    "normalization": ((5,), lambda: [L.Normalization(mean=[1.0, 2, 3, 4, 5], variance=[1.0, 4, 9, 0.5, 2]),
                                     L.Normalization(axis=-1)]),
    "conv1d": ((12, 3), lambda: [L.Conv1D(4, 3, padding="causal"), L.MaxPooling1D(), L.AveragePooling1D(2),
                                 L.SeparableConv1D(4, 2), L.GlobalAveragePooling1D()]),
    "layer_normalization": ((4, 6), lambda: [L.LayerNormalization(), L.LayerNormalization(epsilon=1e-5,
                                                                                           center=False)]),
    "permute": ((3, 4, 2), lambda: [L.Permute((3, 1, 2)), L.Flatten()]),
    "cropping2d": ((8, 8, 2), lambda: [L.Cropping2D(1), L.Cropping2D(((1, 0), (2, 1)))]),
    "upsampling2d": ((4, 4, 2), lambda: [L.UpSampling2D(), L.UpSampling2D((2, 1), interpolation="bilinear")]),
    "conv2d_transpose": ((4, 4, 3), lambda: [L.Conv2DTranspose(4, 3, strides=2, padding="same"),
                                             L.Conv2DTranspose(2, 2)]),
    # Keras 3 writes zero_output_for_mask, which tf_keras's RNN base takes through **kwargs
    "recurrent": ((6, 4), lambda: [L.GRU(5, return_sequences=True), L.LSTM(4, return_sequences=True),
                                   L.SimpleRNN(3)]),
}


def _sequential(shape, factory):
    return k.Sequential([k.Input(shape, name="x"), *factory()], name="seq")


def _functional(shape, factory):
    inp = k.Input(shape, name="x")
    out = inp
    for layer in factory():
        out = layer(out)
    return k.Model(inp, out, name="fn")


@pytest.mark.parametrize("family", sorted(SINGLE_INPUT_FAMILIES))
@pytest.mark.parametrize("build", [_sequential, _functional], ids=["sequential", "functional"])
def test_layer_family_bridges_exactly(family, build):
    shape, factory = SINGLE_INPUT_FAMILIES[family]
    model = build(shape, factory)
    randomize(model)
    assert_bridged_equal(model)


MERGES = {
    "add": lambda: L.Add(),
    "concatenate": lambda: L.Concatenate(axis=-1),
    "multiply": lambda: L.Multiply(),
    "subtract": lambda: L.Subtract(),
    "average": lambda: L.Average(),
    "maximum": lambda: L.Maximum(),
    "minimum": lambda: L.Minimum(),
}


@pytest.mark.parametrize("merge", sorted(MERGES))
@pytest.mark.parametrize("branch", ["functional", "sequential"])
def test_merge_layers_bridge_exactly(merge, branch):
    """Merge layers need a graph; the Sequential variant feeds them from a nested Sequential branch."""
    a, b = k.Input((4, 4, 3), name="a"), k.Input((4, 4, 3), name="b")
    if branch == "sequential":
        left = k.Sequential([k.Input((4, 4, 3)), L.Conv2D(3, 1), L.BatchNormalization()], name="branch")(a)
    else:
        left = L.BatchNormalization()(L.Conv2D(3, 1)(a))
    out = MERGES[merge]()([left, b])
    model = k.Model([a, b], L.Conv2D(2, 1)(out))
    randomize(model)
    assert_bridged_equal(model)


def test_functional_graph_with_op_nodes_shared_layers_and_two_outputs():
    """keras.ops arithmetic in a graph (x + 3.0, 2.0 - x, x / 4, x * y), a layer shared by two calls,
    a nested Functional model and two outputs."""
    inner_in = k.Input((6,))
    inner = k.Model(inner_in, L.Dense(6, activation="relu")(inner_in), name="inner")
    x = k.Input((6,), name="features")
    shared = L.Dense(6, name="shared")
    h = shared(x)
    h2 = shared(inner(h))
    y = (2.0 - (h + 3.0)) / 4.0
    z = L.ReLU(6.0)(y * 0.5) * h2
    model = k.Model(x, [L.Dense(2, name="head_a")(z), L.Add(name="head_b")([h, h2])])
    randomize(model)
    bridged = assert_bridged_equal(model)
    assert bridged.get_layer("shared") is not None and len(bridged.get_layer("shared")._inbound_nodes) == 2
    assert type(bridged.get_layer("inner")).__name__ == "Functional"


def test_nested_sequential_inside_functional_keeps_names():
    block = k.Sequential([k.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same", name="block_conv"),
                          L.BatchNormalization(name="block_bn"), L.ReLU(6.0, name="block_relu")], name="block")
    inp = k.Input((8, 8, 3), name="image")
    out = L.GlobalAveragePooling2D(name="gap")(block(inp))
    model = k.Model(inp, L.Dense(3, name="logits")(out))
    randomize(model)
    bridged = assert_bridged_equal(model)
    assert [layer.name for layer in bridged.get_layer("block").layers] == ["block_conv", "block_bn", "block_relu"]
    assert bridged.input_names == ["image"]


def test_attention_block_with_two_positional_call_arguments():
    """MultiHeadAttention is called as mha(query, value): the second argument becomes tf_keras's value=."""
    inp = k.Input((6, 8), name="tokens")
    att = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(inp, inp)
    x = L.LayerNormalization(name="ln")(L.Add()([inp, att]))
    model = k.Model(inp, L.Dense(3)(L.GlobalAveragePooling1D()(x)))
    randomize(model)
    assert_bridged_equal(model)


def test_sequential_without_input_layer_built_by_shape():
    model = k.Sequential([L.Dense(4, activation="relu"), L.Dense(2)])
    model.build((None, 5))
    randomize(model)
    assert_bridged_equal(model)


def test_unsupported_layer_is_named_with_its_class():
    inp = k.Input((4, 6))
    model = k.Model(inp, L.RMSNormalization(name="rms")(L.Dense(6, name="d")(inp)))
    with pytest.raises(ModelLoadError) as err:
        keras_bridge.bridge_model(model)
    msg = str(err.value)
    assert "'rms'" in msg and "RMSNormalization" in msg and "docs/models.md" in msg and "\n" not in msg


def test_unsupported_op_node_is_named():
    inp = k.Input((4,))
    model = k.Model(inp, k.ops.reshape(L.Dense(4)(inp), (-1, 2, 2)))
    with pytest.raises(ModelLoadError, match=r"'reshape(_\d+)?' \(keras.ops.Reshape\)"):
        keras_bridge.bridge_model(model)


def test_argument_without_tf_keras_equivalent_is_refused():
    dense = L.Dense(3, name="lora_dense")
    model = k.Sequential([k.Input((4,)), dense])
    dense.enable_lora(2)
    with pytest.raises(ModelLoadError, match=r"'lora_dense' \(Dense\): argument lora_rank=2"):
        keras_bridge.bridge_model(model)


def test_subclassed_model_is_refused():
    class Tiny(k.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(ModelLoadError, match="subclassed"):
        keras_bridge.bridge_model(model)


def test_weight_shape_mismatch_names_the_layer():
    tfk = deps.tf_keras()
    src = k.Sequential([k.Input((4,)), L.Dense(3, name="head")])
    dst = tfk.Sequential([tfk.Input((4,)), tfk.layers.Dense(5, name="head")])
    with pytest.raises(ModelLoadError, match=r"'head' \(Dense\): weight shapes"):
        keras_bridge._copy_weights(src, dst)


def test_lambda_bridged_by_wrapping_its_function_when_trusted():
    inp = k.Input((5,), name="x")
    out = L.Lambda(lambda t: k.ops.square(t) * 0.5 + k.ops.sin(t), name="poly")(L.Dense(5)(inp))
    model = k.Model(inp, out)
    randomize(model)
    bridged = assert_bridged_equal(model)
    assert type(bridged.get_layer("poly")).__name__ == "Lambda"
    with pytest.raises(ModelLoadError, match=r"'poly' \(Lambda\)"):
        keras_bridge.bridge_model(model, trust_model=False)


def test_untrusted_scan_finds_lambdas_custom_classes_and_lambda_activations():
    config = {
        "class_name": "Functional",
        "config": {"layers": [
            {"class_name": "InputLayer", "module": "keras.layers", "name": "x", "config": {"name": "x"}},
            {"class_name": "Lambda", "module": "keras.layers", "name": "lam", "config": {"name": "lam"}},
            {"class_name": "MyLayer", "module": "my_pkg.layers", "name": "mine", "config": {"name": "mine"}},
            {"class_name": "Hub", "module": "keras_hub.src.layers", "name": "hub", "config": {"name": "hub"}},
            {"class_name": "Dense", "module": "keras.layers", "name": "act", "config": {
                "name": "act", "activation": {"class_name": "__lambda__", "config": {"code": "..."}}}},
            {"class_name": "Dense", "module": "keras.layers", "name": "ok", "config": {"name": "ok"}},
        ]},
    }
    assert keras_bridge.untrusted_keras3_layers(config) == [
        ("lam", "Lambda"), ("mine", "MyLayer"), ("hub", "Hub"), ("act", "Dense")]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MobileNetV2", "MobileNetV3Small"])
def test_keras_applications_bridge_exactly(name):
    """Real architectures (weights=None: no download), logits compared (no softmax to hide differences)."""
    if name == "MobileNetV2":
        model = k.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35,
                                           classifier_activation=None)
    else:
        model = k.applications.MobileNetV3Small(weights=None, input_shape=(96, 96, 3), minimalistic=False,
                                                include_preprocessing=True, classifier_activation=None)
    randomize_bn_only(model)
    bridged = assert_bridged_equal(model, batch=2, low=0.0, high=255.0)
    assert len(bridged.layers) >= len(model.layers)


def randomize_bn_only(model, seed: int = 0) -> None:
    """Non-trivial BN statistics on top of the model's own (Glorot) init, keeping activations bounded."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = (w.shape for w in layer.weights)
            layer.set_weights([rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.1, beta),
                               rng.normal(0, 0.1, mean), rng.uniform(0.5, 2.0, var)])


def test_keras3_hard_swish_is_a_known_op_on_every_runtime():
    """MobileNetV3's Activation('hard_silu') bridges to a function the analysis maps to HARD_SWISH
    (it was '?hard_silu', and every target refused the model at the fit check)."""
    from edge_sdk.model import analyze, load_model

    inp = k.Input((12,), name="x")
    model = k.Model(inp, L.Activation("hard_silu")(L.Dense(12)(inp)))
    info = analyze(load_model(keras_bridge.bridge_model(model)))
    ops = {op for layer in info.layers for op in layer.runtime_ops.get("tflite", ())}
    assert "HARD_SWISH" in ops and not any(op.startswith("?") for op in ops), ops
