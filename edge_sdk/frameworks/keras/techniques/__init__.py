"""Keras techniques (TFMOT / TFLiteConverter on tf_keras models), registered for framework "keras".

Each technique module is imported here explicitly so the registry never depends on import order; they
import TensorFlow/TFMOT only inside their functions. training.py (the one KD fine-tuning loop),
rebuild.py (config surgery), layer_split.py (lowrank and decompose: layers replaced by chains), ptq_mixed.py
and measure.py are their shared helpers.
"""

from edge_sdk.frameworks.keras.techniques import cluster, decompose, distill, equalize, lowrank, prune, ptq, qat  # noqa: F401
