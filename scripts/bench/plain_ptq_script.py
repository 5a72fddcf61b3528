"""The baseline for scripts/bench_build.py: what a user writes by hand today for an int8 TFLite model.

Load the Keras model, convert with TFLiteConverter (full-integer int8, 200 calibration samples, int8
I/O), then one LiteRT pass over the eval set to check accuracy. No planning, no report, no harness.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

model_path, cal_path, eval_path, out_path = sys.argv[1:5]
model = tf_keras.models.load_model(model_path, compile=False)
cal = np.load(cal_path)["x"][:200]
ev = np.load(eval_path)

converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([cal[i : i + 1]] for i in range(len(cal)))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = tf.int8
converter.inference_output_type = tf.int8
flatbuffer = converter.convert()
open(out_path, "wb").write(flatbuffer)

interp = Interpreter(model_content=flatbuffer)
interp.allocate_tensors()
inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
(s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
correct = 0
for x, y in zip(ev["x"], ev["y"]):
    interp.set_tensor(inp["index"], np.round(x[None] / s_in + z_in).astype(np.int8))
    interp.invoke()
    probs = (interp.get_tensor(out["index"]).astype(np.float32) - z_out) * s_out
    correct += int(probs.argmax() == y)
print(f"accuracy {100 * correct / len(ev['y']):.2f}%")
