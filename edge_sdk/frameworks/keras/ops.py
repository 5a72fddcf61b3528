"""What each tf_keras layer class lowers to: its kind, its TFLite builtin op(s), its Core ML MIL op(s), and
the ONNX operators tf2onnx emits for it (the `onnx` format, TensorRT).

These are the ops the converters emit for the layer on its own (checked against TFLiteConverter output
for the common layers). Fusion with the producing layer (BatchNormalization and ReLU folded into the
conv before them, `activation="relu"` inside a layer) is decided in `analysis.py`, because it
depends on the graph around the layer. A class not listed here maps to `?ClassName`, which no profile
supports, so the fit check flags it instead of assuming it runs.
"""

from __future__ import annotations

# class name -> (kind, tflite ops, coreml MIL ops)
LAYER_OPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "InputLayer": ("input", (), ()),
    "Conv1D": ("conv", ("EXPAND_DIMS", "CONV_2D", "RESHAPE"), ("expand_dims", "conv", "squeeze")),
    "Conv2D": ("conv", ("CONV_2D",), ("conv",)),
    "Conv3D": ("conv", ("CONV_3D",), ("conv",)),
    "Conv1DTranspose": ("conv", ("EXPAND_DIMS", "TRANSPOSE_CONV", "RESHAPE"), ("expand_dims", "conv_transpose", "squeeze")),
    "Conv2DTranspose": ("conv", ("TRANSPOSE_CONV",), ("conv_transpose",)),
    "Conv3DTranspose": ("conv", ("CONV_3D_TRANSPOSE",), ("conv_transpose",)),
    "DepthwiseConv1D": ("depthwise", ("EXPAND_DIMS", "DEPTHWISE_CONV_2D", "RESHAPE"), ("expand_dims", "conv", "squeeze")),
    "DepthwiseConv2D": ("depthwise", ("DEPTHWISE_CONV_2D",), ("conv",)),
    "SeparableConv1D": ("separable", ("EXPAND_DIMS", "DEPTHWISE_CONV_2D", "CONV_2D", "RESHAPE"), ("expand_dims", "conv", "conv", "squeeze")),
    "SeparableConv2D": ("separable", ("DEPTHWISE_CONV_2D", "CONV_2D"), ("conv", "conv")),
    "Dense": ("dense", ("FULLY_CONNECTED",), ("linear",)),
    "EinsumDense": ("matmul", ("FULLY_CONNECTED",), ("einsum",)),
    "Dot": ("matmul", ("BATCH_MATMUL",), ("matmul",)),
    # query/key/value/output projections, scores and context (the 1/sqrt(d) scale folds into the query
    # projection in TFLite); checked against both converters' output
    "MultiHeadAttention": ("matmul", ("FULLY_CONNECTED", "RESHAPE", "TRANSPOSE", "BATCH_MATMUL", "SOFTMAX"),
                           ("matmul", "reshape", "transpose", "mul", "softmax")),
    "Embedding": ("embedding", ("GATHER",), ("gather",)),
    "LSTM": ("matmul", ("UNIDIRECTIONAL_SEQUENCE_LSTM",), ("lstm",)),
    "GRU": ("matmul", ("WHILE",), ("gru",)),
    "SimpleRNN": ("matmul", ("UNIDIRECTIONAL_SEQUENCE_RNN",), ("rnn",)),
    "BatchNormalization": ("norm", ("MUL", "ADD"), ("batch_norm",)),
    "LayerNormalization": ("norm", ("MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "MUL", "SUB"), ("layer_norm",)),
    "GroupNormalization": ("norm", ("RESHAPE", "MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "MUL", "SUB"), ("instance_norm",)),
    "UnitNormalization": ("norm", ("L2_NORMALIZATION",), ("l2_norm",)),
    "Normalization": ("norm", ("SUB", "MUL"), ("sub", "mul")),
    "Rescaling": ("elementwise", ("MUL", "ADD"), ("mul", "add")),
    "ReLU": ("activation", ("RELU",), ("relu",)),
    "LeakyReLU": ("activation", ("LEAKY_RELU",), ("leaky_relu",)),
    "PReLU": ("activation", ("PRELU",), ("prelu",)),
    "ELU": ("activation", ("ELU",), ("elu",)),
    "Softmax": ("activation", ("SOFTMAX",), ("softmax",)),
    "MaxPooling1D": ("pool", ("EXPAND_DIMS", "MAX_POOL_2D", "RESHAPE"), ("expand_dims", "max_pool", "squeeze")),
    "MaxPooling2D": ("pool", ("MAX_POOL_2D",), ("max_pool",)),
    "AveragePooling1D": ("pool", ("EXPAND_DIMS", "AVERAGE_POOL_2D", "RESHAPE"), ("expand_dims", "avg_pool", "squeeze")),
    "AveragePooling2D": ("pool", ("AVERAGE_POOL_2D",), ("avg_pool",)),
    "GlobalAveragePooling1D": ("pool", ("MEAN",), ("reduce_mean",)),
    "GlobalAveragePooling2D": ("pool", ("MEAN",), ("reduce_mean",)),
    "GlobalMaxPooling1D": ("pool", ("REDUCE_MAX",), ("reduce_max",)),
    "GlobalMaxPooling2D": ("pool", ("REDUCE_MAX",), ("reduce_max",)),
    "Flatten": ("reshape", ("RESHAPE",), ("reshape",)),
    "Reshape": ("reshape", ("RESHAPE",), ("reshape",)),
    "Permute": ("reshape", ("TRANSPOSE",), ("transpose",)),
    "RepeatVector": ("reshape", ("TILE",), ("tile",)),
    "ZeroPadding1D": ("reshape", ("PAD",), ("pad",)),
    "ZeroPadding2D": ("reshape", ("PAD",), ("pad",)),
    "Cropping1D": ("reshape", ("STRIDED_SLICE",), ("slice_by_index",)),
    "Cropping2D": ("reshape", ("STRIDED_SLICE",), ("slice_by_index",)),
    "UpSampling1D": ("reshape", ("TILE",), ("tile",)),
    "UpSampling2D": ("reshape", ("RESIZE_NEAREST_NEIGHBOR",), ("upsample_nearest_neighbor",)),
    "Concatenate": ("elementwise", ("CONCATENATION",), ("concat",)),
    "Add": ("elementwise", ("ADD",), ("add",)),
    "Subtract": ("elementwise", ("SUB",), ("sub",)),
    "Multiply": ("elementwise", ("MUL",), ("mul",)),
    "Average": ("elementwise", ("ADD", "MUL"), ("add", "mul")),
    "Maximum": ("elementwise", ("MAXIMUM",), ("maximum",)),
    "Minimum": ("elementwise", ("MINIMUM",), ("minimum",)),
}

# `TFOpLambda` layers (what `x + y`, `x * 2.0` or `tf.nn.softmax(x)` become in a functional model), by
# their `symbol` -> (kind, tflite ops, coreml ops, onnx ops). A symbol not listed maps to `?tf.<symbol>`.
TF_SYMBOL_OPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "__operators__.add": ("elementwise", ("ADD",), ("add",), ("Add",)),
    "math.add": ("elementwise", ("ADD",), ("add",), ("Add",)),
    "math.subtract": ("elementwise", ("SUB",), ("sub",), ("Sub",)),
    "math.multiply": ("elementwise", ("MUL",), ("mul",), ("Mul",)),
    "math.truediv": ("elementwise", ("MUL",), ("mul",), ("Mul",)),  # by a constant: a multiply by its inverse
    "math.divide": ("elementwise", ("MUL",), ("mul",), ("Mul",)),
    "nn.softmax": ("activation", ("SOFTMAX",), ("softmax",), ("Softmax",)),
    "nn.relu": ("activation", ("RELU",), ("relu",), ("Relu",)),
    "math.sigmoid": ("activation", ("LOGISTIC",), ("sigmoid",), ("Sigmoid",)),
    "math.tanh": ("activation", ("TANH",), ("tanh",), ("Tanh",)),
    "reshape": ("reshape", ("RESHAPE",), ("reshape",), ("Reshape",)),
    "transpose": ("reshape", ("TRANSPOSE",), ("transpose",), ("Transpose",)),
    "concat": ("elementwise", ("CONCATENATION",), ("concat",), ("Concat",)),
    "math.reduce_mean": ("pool", ("MEAN",), ("reduce_mean",), ("ReduceMean",)),
    "linalg.matmul": ("matmul", ("BATCH_MATMUL",), ("matmul",), ("MatMul",)),
}


def tf_symbol_ops(symbol: str) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    unknown = (f"?tf.{symbol}",)
    return TF_SYMBOL_OPS.get(symbol, ("other", unknown, unknown, unknown))


# Layers that do nothing at inference: removed by every converter, their output aliases their input.
INFERENCE_NOOPS = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "ActivityRegularization",
        "Masking",
    }
)

# activation function name -> (tflite ops, coreml ops, TFLite can fuse it into the producing op)
ACTIVATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "linear": ((), (), True),
    "relu": (("RELU",), ("relu",), True),
    "relu6": (("RELU6",), ("relu6",), True),
    "sigmoid": (("LOGISTIC",), ("sigmoid",), False),
    "tanh": (("TANH",), ("tanh",), False),
    "softmax": (("SOFTMAX",), ("softmax",), False),
    "elu": (("ELU",), ("elu",), False),
    "gelu": (("GELU",), ("gelu",), False),
    "swish": (("LOGISTIC", "MUL"), ("silu",), False),
    "silu": (("LOGISTIC", "MUL"), ("silu",), False),
    "hard_sigmoid": (("HARD_SWISH",), ("sigmoid_hard",), False),
    # Keras 3's hard-swish (MobileNetV3); the bridge's x * relu6(x + 3) / 6 converts to HARD_SWISH
    "hard_silu": (("HARD_SWISH",), ("sigmoid_hard", "mul"), False),
    "hard_swish": (("HARD_SWISH",), ("sigmoid_hard", "mul"), False),
    "softplus": (("EXP", "ADD", "LOG"), ("softplus",), False),
    "leaky_relu": (("LEAKY_RELU",), ("leaky_relu",), False),
}

# Producers a following BatchNormalization / ReLU can fold into (TFLite fused activation slot).
FUSE_TARGETS = frozenset({"conv", "depthwise", "separable", "dense"})
FUSE_ACTIVATION_INTO = FUSE_TARGETS | {"add"}


def activation_name(fn) -> str:
    """Name of a Keras activation (function, string, or None)."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    return getattr(fn, "__name__", type(fn).__name__)


def activation_ops(name: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    return ACTIVATIONS.get(name, ((f"?{name}",), (f"?{name}",), False))


# class name -> the ONNX operators tf2onnx 1.17 emits for it at opset 17 (surveyed over the conformance
# zoo's Keras models; classes not surveyed follow tf2onnx's handlers). A class not listed maps to
# `?ClassName`, so the fit check sends the model to the target's next format instead of guessing.
ONNX_OPS: dict[str, tuple[str, ...]] = {
    "Conv1D": ("Unsqueeze", "Conv", "Squeeze"), "Conv2D": ("Conv",), "Conv3D": ("Conv",),
    "Conv1DTranspose": ("Unsqueeze", "ConvTranspose", "Squeeze"), "Conv2DTranspose": ("ConvTranspose",),
    "Conv3DTranspose": ("ConvTranspose",), "DepthwiseConv1D": ("Unsqueeze", "Conv", "Squeeze"),
    "DepthwiseConv2D": ("Conv",), "SeparableConv1D": ("Unsqueeze", "Conv", "Squeeze"), "SeparableConv2D": ("Conv",),
    "Dense": ("MatMul", "Add"), "EinsumDense": ("Einsum", "Add"), "Dot": ("MatMul",), "Embedding": ("Gather",),
    "MultiHeadAttention": ("Gemm", "MatMul", "Reshape", "Transpose", "Softmax", "Mul", "Shape", "Gather", "Concat",
                           "Unsqueeze", "Squeeze", "ReduceProd", "Max"),
    "LSTM": ("LSTM",), "GRU": ("GRU",), "SimpleRNN": ("RNN",),
    "BatchNormalization": ("BatchNormalization",),
    "LayerNormalization": ("ReduceMean", "Sub", "Mul", "Add", "Sqrt", "Div"),
    "UnitNormalization": ("LpNormalization",), "Normalization": ("Sub", "Mul"), "Rescaling": ("Mul", "Add"),
    "ReLU": ("Relu",), "LeakyReLU": ("LeakyRelu",), "PReLU": ("Neg", "Relu", "Mul", "Add"), "ELU": ("Elu",),
    "Softmax": ("Softmax",), "MaxPooling1D": ("Unsqueeze", "MaxPool", "Squeeze"), "MaxPooling2D": ("MaxPool",),
    "AveragePooling1D": ("Unsqueeze", "AveragePool", "Squeeze"), "AveragePooling2D": ("AveragePool",),
    "GlobalAveragePooling1D": ("GlobalAveragePool", "Squeeze"), "GlobalAveragePooling2D": ("GlobalAveragePool", "Squeeze"),
    "GlobalMaxPooling1D": ("GlobalMaxPool", "Squeeze"), "GlobalMaxPooling2D": ("GlobalMaxPool", "Squeeze"),
    "Flatten": ("Reshape",), "Reshape": ("Reshape",), "Permute": ("Transpose",), "RepeatVector": ("Tile",),
    "ZeroPadding1D": ("Pad",), "ZeroPadding2D": ("Pad",), "Cropping1D": ("Slice",), "Cropping2D": ("Slice",),
    "UpSampling1D": ("Tile",), "UpSampling2D": ("Resize",), "Concatenate": ("Concat",), "Add": ("Add",),
    "Subtract": ("Sub",), "Multiply": ("Mul",), "Average": ("Add", "Mul"), "Maximum": ("Max",), "Minimum": ("Min",),
}
ONNX_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "linear": (), "relu": ("Relu",), "relu6": ("Clip",), "sigmoid": ("Sigmoid",), "tanh": ("Tanh",),
    "softmax": ("Softmax",), "elu": ("Elu",), "gelu": ("Erf", "Mul", "Add"), "swish": ("Sigmoid", "Mul"),
    "silu": ("Sigmoid", "Mul"), "hard_sigmoid": ("HardSigmoid",), "hard_silu": ("HardSigmoid", "Mul"),
    "hard_swish": ("HardSigmoid", "Mul"), "softplus": ("Softplus",), "leaky_relu": ("LeakyRelu",),
}


def onnx_ops(cls: str, activation: str) -> tuple[str, ...]:
    """The ONNX operators of a layer of class `cls` with its own `activation` (an `Activation` layer:
    the function it applies)."""
    if cls in INFERENCE_NOOPS or cls == "InputLayer":
        return ()
    own = ONNX_ACTIVATIONS.get(activation, (f"?{activation}",))
    if cls == "Activation":
        return own
    return ONNX_OPS.get(cls, (f"?{cls}",)) + own
