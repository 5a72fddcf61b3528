"""A .tflite that a package ships with real trained weights: tflite-micro's hello-world sine model
(tflite_micro/python/tflite_micro/sine_float.tflite, float32, x in [0, 2*pi] -> sin(x)).

The SDK reads .tflite for `inspect` and `bench` only, so the matrix inspects it against each
family instead of building it. (mediapipe 1.2.x wheels ship no .tflite: their task models are
downloaded at run time, so none of them is here.)
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np

from zoo import common
from zoo.model import ZooModel


def sine(out_dir: Path, seed: int) -> ZooModel:
    spec = importlib.util.find_spec("tflite_micro")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tflite-micro is not installed: pip install 'edge-sdk[tf]'")
    src = Path(spec.submodule_search_locations[0]) / "python" / "tflite_micro" / "sine_float.tflite"
    path = out_dir / "model.tflite"
    shutil.copyfile(src, path)
    r = common.rng(seed, "sine")
    xc = r.uniform(0, 2 * np.pi, (300, 1)).astype(np.float32)
    xe = np.linspace(0, 2 * np.pi, 200, dtype=np.float32).reshape(-1, 1)
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.resize_tensor_input(interp.get_input_details()[0]["index"], list(xe.shape))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], xe)
    interp.invoke()
    pred = interp.get_tensor(interp.get_output_details()[0]["index"])
    err = float(np.abs(pred.reshape(-1) - np.sin(xe.reshape(-1))).max())
    if err > 0.3:
        raise common.DegenerateModel(f"zoo model tfl_sine: max |model - sin| {err:.2f} on eval; the bundled file changed?")
    common.save_npz(out_dir / "calibration.npz", x=xc)
    common.save_npz(out_dir / "eval.npz", x=xe)
    return ZooModel("tfl_sine", "tflite", "regression", path, out_dir / "calibration.npz", out_dir / "eval.npz",
                    inputs={"x": [[1], "float32"]}, outputs=[[[1], "float32"]],
                    weights="pretrained: tflite-micro wheel, sine_float.tflite", checks={"max_abs_error_vs_sin": round(err, 4)})
