"""The one tf_keras training loop every Keras technique fine-tunes with.

Why one loop: QAT, pruning, clustering, low-rank and distillation all need the same thing - train a
(wrapped) student to match the original model - and must all be seeded, deterministic, label-free by
default, stop on a plateau and show progress. The loss is knowledge distillation, summed over the
outputs, each by its kind (techniques/kd_loss.py): KL divergence between the teacher's and the
student's class scores softened at temperature T (times T^2), mean squared error over the teacher's
variance for regression and detection outputs, 1 - cosine for embeddings; plus cross-entropy on the
labels when the step uses them (`alpha` weights the two). Teacher outputs are computed once, so no
more data is ever used than the user gave.
"""

from __future__ import annotations

import dataclasses
import time
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from edge_sdk import deps
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import ConfigError
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.config import TrainingConfig
from edge_sdk.techniques.kd_loss import output_losses

_EPS = 1e-7


class KerasTrainingConfig(TrainingConfig):
    """The common training keys plus the learning-rate schedule of the Keras loop."""

    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to 1% over `epochs`


def seed_everything(seed: int) -> None:
    """Seed Python/numpy/TF and make TF kernels deterministic (same seed -> same bytes)."""
    tf = deps.tensorflow()
    deps.tf_keras().utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def validated(model: LoadedModel, data: TechniqueData, cfg: KerasTrainingConfig) -> TechniqueData:
    """Re-check every data split against the model's inputs before any work (DataError on mismatch)."""
    if model.framework != "keras":
        raise ConfigError(
            f"the Keras techniques work on Keras models; got a {model.framework} model "
            "(apply_step runs the implementation of the model's framework)"
        )
    train = load_dataset(data.train, model.inputs, max_samples=cfg.max_samples, purpose="training")
    calibration = load_dataset(data.calibration, model.inputs, purpose="calibration")
    evaluation = None if data.eval is None else load_dataset(data.eval, model.inputs, purpose="eval")
    return dataclasses.replace(data, train=train, calibration=calibration, eval=evaluation)


def copy_model(handle: Any) -> Any:
    """An independent tf_keras copy (same architecture and weights), so inputs are never mutated."""
    tfk = deps.tf_keras()
    clone = tfk.models.clone_model(handle)
    clone.set_weights(handle.get_weights())
    return clone


def rewrap(handle: Any, wrap: Any) -> Any:
    """A copy of `handle` with each layer passed through `wrap` (e.g. a TFMOT wrapper, or unchanged)."""
    return deps.tf_keras().models.clone_model(copy_model(handle), clone_function=wrap)


def kernel_of(layer: Any) -> Any:
    """The main weight of a (possibly TFMOT-wrapped) layer as numpy, with any preserve-mask applied."""
    for weight, _quantizer, quantizer_vars in getattr(layer, "_weight_vars", ()):  # QAT wrappers
        if weight.name.split("/")[-1].startswith(("kernel", "depthwise_kernel")):
            mask = quantizer_vars.get("sparsity_mask") if isinstance(quantizer_vars, dict) else None
            return weight.numpy() * (1.0 if mask is None else np.asarray(mask))
    inner = getattr(layer, "layer", layer)
    kernel = getattr(inner, "kernel", None) if not hasattr(inner, "depthwise_kernel") else inner.depthwise_kernel
    return None if kernel is None else kernel.numpy()


def find_layer(handle: Any, name: str) -> Any:
    """A layer by its original name, also when QAT renamed its wrapper to `quant_<name>`."""
    for layer in handle.layers:
        if layer.name == name or getattr(getattr(layer, "layer", None), "name", None) == name:
            return layer
    raise KeyError(name)


def _logits(outputs: np.ndarray) -> tuple[np.ndarray, bool]:
    """Teacher outputs as logits; softmax outputs are detected numerically and taken to log space."""
    probs = bool(outputs.shape[-1] > 1 and (outputs >= 0).all() and np.allclose(outputs.sum(-1), 1.0, atol=1e-3))
    return (np.log(np.clip(outputs, _EPS, 1.0)) if probs else outputs).astype(np.float32), probs


@lru_cache(maxsize=None)
def _trainer_class() -> type:
    """A Model wrapping the student with a KD (+CE) train_step; callbacks see the student as a sub-model.

    Targets are (teacher logits or outputs of output 1, ..., of output n[, labels]): the loss of each
    output's kind (`losses`: kl | mse | cosine, `scales`: the teacher variance mse divides by) summed
    over the outputs; labels (single-output models only) add cross-entropy on the one output."""
    tf = deps.tensorflow()
    tfk = deps.tf_keras()

    class KDTrainer(tfk.Model):
        def __init__(self, student, temperature: float, alpha: float, probs: tuple[bool, ...], labelled: bool,
                     losses: tuple[str, ...], scales: tuple[float, ...]):
            super().__init__()
            self.student = student
            self.temperature = float(temperature)
            self.alpha = float(alpha)
            self.probs = tuple(probs)
            self.labelled = labelled
            self.output_losses = tuple(losses)  # `losses` is a Keras Model property
            self.scales = tuple(scales)

        def call(self, inputs, training=False):
            return self.student(inputs, training=training)

        def _student_logits(self, x):
            outs = self.student(x, training=True)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            return [tf.math.log(tf.clip_by_value(o, _EPS, 1.0)) if p else o for o, p in zip(outs, self.probs)]

        def _kd(self, logits, teacher):
            t = self.temperature
            p_teacher = tf.nn.softmax(teacher / t)
            log_student = tf.nn.log_softmax(logits / t)
            kl = tf.reduce_sum(p_teacher * (tf.math.log(p_teacher + _EPS) - log_student), axis=-1)
            return tf.reduce_mean(kl) * t * t

        def _term(self, kind, student, teacher, scale):
            if kind == "kl":
                return self._kd(student, teacher)
            if kind == "mse":
                return tf.reduce_mean(tf.square(student - teacher)) / scale
            flat = lambda v: tf.math.l2_normalize(tf.reshape(v, (tf.shape(v)[0], -1)), axis=-1)  # noqa: E731
            return tf.reduce_mean(1.0 - tf.reduce_sum(flat(student) * flat(teacher), axis=-1))

        def _loss(self, logits, targets):
            loss = tf.add_n([self._term(*term) for term in zip(self.output_losses, logits, targets, self.scales)])
            if self.labelled:
                ce = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets[-1], logits=logits[0])
                )
                loss = self.alpha * loss + (1.0 - self.alpha) * ce
            return loss

        def train_step(self, data):
            x, targets = data
            with tf.GradientTape() as tape:
                loss = self._loss(self._student_logits(x), targets)
                total = loss + tf.add_n(self.student.losses) if self.student.losses else loss
            variables = self.student.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            return {"loss": loss}

    return KDTrainer


def _progress_callback(label: str, epochs: int) -> Any:
    """One progress line per epoch with its loss (edge_sdk.progress: the terminal, from a worker too)."""
    from edge_sdk import progress

    tfk = deps.tf_keras()

    class EpochProgress(tfk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss", float("nan"))
            progress.report(f"    {label}: epoch {epoch + 1}/{epochs}, loss {loss:.4f}")

    return EpochProgress()


def fit(
    student: Any,
    data: TechniqueData,
    cfg: KerasTrainingConfig,
    *,
    label: str,
    callbacks: tuple = (),
    min_epochs: int = 0,
    freeze_bn: bool = True,
) -> dict[str, Any]:
    """Train `student` in place towards `data.teacher` on `data.train`; returns what happened (for records).

    `min_epochs` keeps early stopping off until e.g. a pruning schedule has reached its target.
    `freeze_bn` (see freeze_batch_norm) is for students that start from trained weights; one trained
    from a random initialisation needs its BatchNorm layers learning.
    """
    tfk = deps.tf_keras()
    train: Dataset = data.train
    x = train.as_model_input()
    teacher_outputs = predict_outputs(data.teacher.handle, x)
    if len(teacher_outputs) != len(student.outputs):
        raise ConfigError(f"{label}: the model has {len(student.outputs)} outputs, the teacher {len(teacher_outputs)}")
    loss_kinds = output_losses(data.output_kinds, data.teacher, len(teacher_outputs))
    teacher_logits, probs = zip(*(_logits(out) if loss == "kl" else (out.astype(np.float32), False)
                                  for out, loss in zip(teacher_outputs, loss_kinds)))
    scales = tuple(float(np.var(out)) + _EPS if loss == "mse" else 1.0 for out, loss in zip(teacher_outputs, loss_kinds))
    labelled = bool(cfg.use_labels and train.has_labels and len(teacher_logits) == 1 and teacher_logits[0].ndim == 2
                    and loss_kinds[0] == "kl")
    targets = (*teacher_logits, train.labels.astype(np.int32)) if labelled else tuple(teacher_logits)

    epochs = max(cfg.epochs, min_epochs)
    batch_size = cfg.batch_size
    even = has_strided_pointwise_conv(student)
    if even:  # see has_strided_pointwise_conv: every batch full and of an even size
        batch_size += batch_size % 2
        x, targets = full_batches((x, targets), len(train), batch_size)
    steps = -(-len(train) // batch_size)
    frozen = freeze_batch_norm(student) if freeze_bn else []
    inference_bn = sum(not layer.trainable for layer in batch_norm_layers(student))  # frozen here or by QAT
    trainer = _trainer_class()(student, cfg.temperature, cfg.alpha, probs, labelled, loss_kinds, scales)
    learning_rate: Any = cfg.learning_rate
    if cfg.lr_schedule == "cosine":  # training from scratch converges much better
        learning_rate = tfk.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps, alpha=0.01)
    trainer.compile(optimizer=tfk.optimizers.Adam(learning_rate))
    stopper = tfk.callbacks.EarlyStopping(
        monitor="loss", patience=cfg.patience, min_delta=cfg.min_delta, start_from_epoch=min_epochs
    )
    all_callbacks = [*callbacks, stopper]
    if cfg.progress:
        all_callbacks.append(_progress_callback(label, epochs))
    start = time.perf_counter()
    history = trainer.fit(
        x, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=all_callbacks
    )
    for layer in frozen:  # the next step gets the model as it came: TFMOT's pruning- and
        layer.trainable = True  # cluster-preserving QAT registries read a frozen BN as weightless
    losses = [float(v) for v in history.history.get("loss", [])]
    return {
        "train_samples": len(train),
        "labels_used": labelled,
        "epochs_run": len(losses),
        "epochs_max": epochs,
        "stopped_early": len(losses) < epochs,
        "final_loss": losses[-1] if losses else None,
        "train_s": round(time.perf_counter() - start, 3),
        "batch_norm_frozen": inference_bn,
        "losses": list(loss_kinds),
        **({"even_batches": batch_size} if even else {}),
    }


def freeze_batch_norm(handle: Any) -> list[Any]:
    """Run every BatchNormalization layer (TFMOT wrappers looked into) in inference mode while fine-tuning:
    its moving statistics and its scale/offset stay as trained. Returns the layers it froze.

    Why: fine-tuning runs on a few hundred samples in batches of 32. In training mode each BN normalises
    by that batch's statistics and pulls its moving averages towards them, so the exported model runs
    with statistics from a handful of small batches. On a keras.applications MobileNet (alpha 0.25) that
    took label-free QAT from 0.90 top-1 agreement (plain int8) down to 0.80, and channel pruning and
    low-rank to chance; with BN frozen, QAT kept 0.905. Freezing is what Keras' fine-tuning guide does.
    """
    frozen = [layer for layer in batch_norm_layers(handle) if layer.trainable]
    for layer in frozen:
        layer.trainable = False
    return frozen


def batch_norm_layers(handle: Any) -> list[Any]:
    """The model's BatchNormalization layers, looked for inside TFMOT wrappers too."""
    tfk = deps.tf_keras()
    inner = (getattr(layer, "layer", layer) for layer in handle.layers)
    return [layer for layer in inner if isinstance(layer, tfk.layers.BatchNormalization)]


def has_strided_pointwise_conv(handle: Any) -> bool:
    """True when the model (TFMOT wrappers looked into) has a 1x1 Conv2D with a stride above 1.

    Why: in TensorFlow 2.21's oneDNN CPU kernels, Conv2DBackpropFilter of a 1x1 kernel at stride 2
    corrupts the heap when the batch size is odd (`free(): invalid size`, `corrupted size vs.
    prev_size`, SIGSEGV/SIGABRT/SIGBUS), e.g. at 44x44x8 or 22x22x1 inputs with batches 1, 3, 5, 31
    (even batches and TF_ENABLE_ONEDNN_OPTS=0 run clean). The strided 1x1 shortcut conv of
    Xception-style residual blocks has exactly that gradient, so a training set whose size leaves an
    odd last batch killed the process. Such models train in full batches of an even size.
    """
    tfk = deps.tf_keras()
    for layer in handle.layers:
        inner = getattr(layer, "layer", layer)
        if type(inner) is tfk.layers.Conv2D and set(inner.kernel_size) == {1} and max(inner.strides) > 1:
            return True
    return False


def full_batches(arrays: Any, n: int, batch_size: int) -> Any:
    """Every array of the (nested) structure topped up to a multiple of `batch_size` rows with rows from
    the start (real samples seen twice per epoch, never made-up ones)."""
    rows = np.resize(np.arange(n), -(-n // batch_size) * batch_size)
    return deps.tensorflow().nest.map_structure(lambda a: np.asarray(a)[rows], arrays)


def record(technique: str, params: dict, metrics: dict, notes: list[str], start: float) -> StepRecord:
    return StepRecord(technique, params, metrics, tuple(notes), wall_s=round(time.perf_counter() - start, 3))


def predict_outputs(handle: Any, x: Any) -> list[np.ndarray]:
    """Every output of the model on `x`, as a list (one array per output)."""
    out = handle.predict(x, batch_size=256, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def fidelity_on(handle: Any, data: TechniqueData) -> float | None:
    """Top-1 agreement with the teacher on the eval split, averaged over the outputs (reported, never
    trained on)."""
    if data.eval is None:
        return None
    x = data.eval.as_model_input()
    pairs = list(zip(predict_outputs(data.teacher.handle, x), predict_outputs(handle, x)))
    if any(ref.ndim < 2 or ref.shape != out.shape for ref, out in pairs):
        return None
    return float(np.mean([(ref.argmax(-1) == out.argmax(-1)).mean() for ref, out in pairs]))
