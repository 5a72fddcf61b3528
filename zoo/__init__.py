"""The conformance zoo: one generator per model, a registry, and a content-addressed cache.

    from zoo import REGISTRY, make
    zm = make("k_mobilenet_025", seed=0)          # -> ZooModel (cached: generated once per content key)
    zm.model, zm.calibration, zm.eval

Every generator is `function(out_dir, seed) -> ZooModel`; it writes the model file (`.keras` for Keras,
`.pt2` via torch.export.save for PyTorch, a package's bundled `.tflite`), `calibration.npz` and
`eval.npz` (`x`, or one array per named input, never labels: fidelity to the fp32 model is the
metric) and asserts that the fp32 outputs are not degenerate. Nothing is downloaded: weights are
either a package's bundled file or trained-like (fit a few epochs on a structured synthetic task).
`python -m zoo list|make` is the command line; scripts/zoo.py runs the build matrix.
"""

from __future__ import annotations

from zoo.model import FAMILIES, Entry, ZooModel

ALL = ("android", "ios", "cortex-m", "jetson")
NO_MCU = ("android", "ios", "jetson")
_SYN = "trained-like: fit on a synthetic structured task"

REGISTRY: dict[str, Entry] = {e.name: e for e in (
    # ---- Keras: keras.applications (weights=None)
    Entry("k_mobilenet_025", "keras", "zoo.keras_apps:mobilenet_025", "classification", _SYN, ALL, ci=True,
          notes="MobileNet alpha 0.25, 96x96x3, 10 classes"),
    Entry("k_mobilenet_v2_035", "keras", "zoo.keras_apps:mobilenet_v2_035", "classification", _SYN, ALL,
          notes="MobileNetV2 alpha 0.35, 96x96x3"),
    Entry("k_mobilenet_v3_small", "keras", "zoo.keras_apps:mobilenet_v3_small", "classification", _SYN, ALL,
          notes="MobileNetV3Small (hard-swish, SE), 96x96x3, input 0-255"),
    Entry("k_mobilenet_v3_small_min", "keras", "zoo.keras_apps:mobilenet_v3_small_min", "classification", _SYN, ALL,
          notes="MobileNetV3Small minimalistic, 96x96x3, input 0-255"),
    Entry("k_efficientnet_b0", "keras", "zoo.keras_apps:efficientnet_b0", "classification", _SYN, ALL,
          notes="EfficientNetB0 at 48x48x3 (swish, SE, built-in normalization), input 0-255"),
    Entry("k_nasnet_mobile", "keras", "zoo.keras_apps:nasnet_mobile", "classification", _SYN, ALL,
          notes="NASNetMobile at 48x48x3"),
    Entry("k_densenet121", "keras", "zoo.keras_apps:densenet121", "classification", _SYN, ALL, trained_rungs=False,
          notes="DenseNet121 at 32x32x3; inspect and untrained rungs only"),
    Entry("k_resnet50", "keras", "zoo.keras_apps:resnet50", "classification", _SYN, ALL, trained_rungs=False,
          notes="ResNet50 at 32x32x3; inspect and untrained rungs only"),
    # ---- Keras: hand-written
    Entry("k_xception_sep", "keras", "zoo.keras_custom:xception_sep", "classification", _SYN, ALL,
          notes="Xception-style SeparableConv2D blocks, head Conv 1x1 -> GAP -> Softmax"),
    Entry("k_kws_conv1d", "keras", "zoo.keras_custom:kws_conv1d", "classification", _SYN, ALL, ci=True,
          notes="1-D conv keyword spotter on 49x10 MFCC frames, 12 classes"),
    Entry("k_gru", "keras", "zoo.keras_custom:gru_classifier", "classification", _SYN, ALL,
          notes="GRU(48) over 32x16 sequences, 6 classes"),
    Entry("k_gru_tf_keras", "keras", "zoo.keras_custom:gru_tf_keras", "classification", _SYN, ALL,
          notes="the same GRU built and saved with tf_keras (.h5): the path around the Keras 3 bridge"),
    Entry("k_autoencoder", "keras", "zoo.keras_custom:autoencoder", "regression", _SYN, ALL, ci=True,
          notes="dense autoencoder 640 -> 128x4 -> 8 -> 128x4 -> 640 (MLPerf Tiny AD)"),
    Entry("k_two_input", "keras", "zoo.keras_custom:two_input", "classification", _SYN, ALL,
          notes="inputs image (32x32x3) and meta (8,), concatenated"),
    # ---- Keras: real pretrained weights shipped in the mtcnn wheel
    Entry("k_mtcnn_pnet", "keras", "zoo.mtcnn_models:pnet", "detection", "pretrained: mtcnn wheel (pnet.lz4)", ALL,
          notes="fully convolutional, 48x48 -> 19x19 maps (boxes, face scores)"),
    Entry("k_mtcnn_rnet", "keras", "zoo.mtcnn_models:rnet", "detection", "pretrained: mtcnn wheel (rnet.lz4)", ALL,
          notes="the two-output model: boxes (4,) then class scores (2,)"),
    Entry("k_mtcnn_onet", "keras", "zoo.mtcnn_models:onet", "detection", "pretrained: mtcnn wheel (onet.lz4)", ALL,
          notes="three outputs: boxes, 5 landmarks, class scores"),
    # ---- PyTorch: torchvision architectures (zoo/torch_arch.py; torchvision cannot import on torch+cpu), NCHW
    Entry("t_mobilenet_v2", "torch", "zoo.torch_vision:mobilenet_v2", "classification", _SYN, NO_MCU,
          notes="mobilenet_v2 (torchvision layout), 64x64"),
    Entry("t_mobilenet_v3_small", "torch", "zoo.torch_vision:mobilenet_v3_small", "classification", _SYN, NO_MCU,
          notes="mobilenet_v3_small (torchvision layout), 64x64"),
    Entry("t_resnet18", "torch", "zoo.torch_vision:resnet18", "classification", _SYN, NO_MCU,
          notes="resnet18 (torchvision layout), 32x32"),
    Entry("t_squeezenet1_1", "torch", "zoo.torch_vision:squeezenet1_1", "classification", _SYN, NO_MCU, ci=True,
          notes="squeezenet1_1 (torchvision layout), 48x48"),
    Entry("t_shufflenet_v2_x0_5", "torch", "zoo.torch_vision:shufflenet_v2_x0_5", "classification", _SYN, NO_MCU,
          notes="shufflenet_v2_x0_5 (torchvision layout), 48x48"),
    Entry("t_efficientnet_b0", "torch", "zoo.torch_vision:efficientnet_b0", "classification", _SYN, NO_MCU,
          notes="efficientnet_b0 (torchvision layout), 32x32"),
    Entry("t_vit_tiny", "torch", "zoo.torch_vision:vit_tiny", "classification", _SYN, NO_MCU,
          notes="ViT (torchvision layout), 32x32, patch 4, 4 layers, dim 96"),
    # ---- PyTorch: sequences and text
    Entry("t_bert_embed", "torch", "zoo.torch_seq:bert_embed", "embedding", _SYN, NO_MCU,
          notes="transformers BertModel from a config (sdpa), mean-pooled embedding; batch 1, int64 [1, 64]"),
    Entry("t_lstm", "torch", "zoo.torch_seq:lstm_classifier", "classification", _SYN, NO_MCU,
          notes="nn.LSTM(16 -> 48) over 32 steps, 6 classes"),
    Entry("t_mtcnn_onet", "torch", "zoo.torch_seq:mtcnn_onet", "detection", "pretrained: mtcnn wheel (onet.lz4), ported",
          NO_MCU, notes="MTCNN ONet in PyTorch (facenet-pytorch's layout), NCHW, weights from the mtcnn wheel"),
    # ---- a package's bundled .tflite (the SDK inspects .tflite; it does not build from it)
    Entry("tfl_sine", "tflite", "zoo.tflite_packaged:sine", "regression", "pretrained: tflite-micro wheel (sine_float.tflite)",
          ALL, trained_rungs=False, build=False, notes="the TFLM hello-world sine model, float32"),
)}


def make(name: str, seed: int = 0, root=None, *, force: bool = False) -> ZooModel:
    """The model `name` for `seed`, generated into the cache under `root` if not there yet."""
    from zoo.cache import generate

    return generate(REGISTRY[name], seed, root, force=force)


__all__ = ["REGISTRY", "Entry", "ZooModel", "FAMILIES", "make"]
