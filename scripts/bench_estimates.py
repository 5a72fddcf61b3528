"""Latency estimates against published measurements (issue 18's yardstick).

    python scripts/bench_estimates.py [--json FILE]

The measurements (scripts/bench/published_latency.json, each with its source, the line it was read
from and how latency was derived) are MLPerf Tiny closed-division results of TensorFlow Lite Micro with
CMSIS-NN on Arm Cortex-M CPUs alone (no accelerator): the four reference models (scripts/bench/
mlperf_tiny.py) on three boards, 12 (model, device) pairs, none of them used to set any coefficient.
Each board is a profile overlay of the built-in Cortex-M profile with the board's core and clock
(`BOARDS` below); the estimate is the int8 latency `edge-sdk plan` would show for the model.

Prints a table (model, board, published ms, estimated ms, error, source) and the median and maximum
absolute error; the goal is at most 25% median and 60% maximum.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from bench import mlperf_tiny  # noqa: E402

PUBLISHED = ROOT / "scripts/bench/published_latency.json"
# board -> the core's int8 MAC/cycle peak as the built-in profiles state it (SMLAD: 2 on the Armv7E-M
# and Armv8-M Mainline DSP extension; Helium's VMLADAV on a dual-beat Cortex-M85: 8)
BOARDS = {
    "NUCLEO-L4R5ZI (STM32L4R5ZIT6)": {"cpu": "Arm Cortex-M4F (STM32L4R5ZI)", "clock_hz": 120_000_000, "int8_macs_per_cycle": 2},
    "Renesas EK-RA6M4": {"cpu": "Arm Cortex-M33 (R7FA6M4AF)", "clock_hz": 200_000_000, "int8_macs_per_cycle": 2},
    "Renesas EK-RA8D1": {"cpu": "Arm Cortex-M85 with Helium (R7FA8D1BH)", "clock_hz": 480_000_000, "int8_macs_per_cycle": 8},
}
BASE_PROFILE = "stm32f746-disco"


def cpu_only_tflm(measurements: list[dict]) -> list[dict]:
    """The pairs the yardstick uses: TFLM + CMSIS-NN on a Cortex-M CPU of a board in BOARDS."""
    return [m for m in measurements if m.get("tflm_on_cortex_m") and m["device"] in BOARDS]


def board_profile(device: str, directory: Path):
    """A profile overlay for one board: the base Cortex-M profile with the board's core and clock."""
    from edge_sdk.profiles import get_profile, load_profile_file

    base = get_profile(BASE_PROFILE)
    board = BOARDS[device]
    unit = base.compute.units[0]
    rate = board["clock_hz"] * board["int8_macs_per_cycle"]
    overlay = {
        "name": "bench-" + "".join(c if c.isalnum() else "-" for c in device.lower()).strip("-")[:40],
        "extends": BASE_PROFILE,
        "compute": {"cpu": board["cpu"], "clock_hz": board["clock_hz"], "source": f"MLPerf Tiny system description of {device}",
                    "units": [{**unit.model_dump(exclude_none=True), "dtypes": {"int8": rate, "int16": rate / 2}}]},
    }
    path = directory / f"{overlay['name']}.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return load_profile_file(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    from edge_sdk import analyze, load_model
    from edge_sdk.planner.estimate import estimate

    pairs = cpu_only_tflm(json.loads(PUBLISHED.read_text())["measurements"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        infos = {name: analyze(load_model(mlperf_tiny.save(name, Path(tmp)))) for name in sorted({m["model"] for m in pairs})}
        profiles = {device: board_profile(device, Path(tmp)) for device in sorted({m["device"] for m in pairs})}
        for m in pairs:
            profile = profiles[m["device"]]
            est = estimate(infos[m["model"]], profile, fmt="tflm", precision="int8")
            error = est.best_latency_ms / m["latency_ms"] - 1
            rows.append({"model": m["model"], "device": m["device"], "published_ms": m["latency_ms"],
                         "estimate_ms": round(est.best_latency_ms, 3), "error": round(error, 4), "source": m["source"]})
    print(f"{'model':<24} {'board':<30} {'published ms':>12} {'estimate ms':>11} {'error':>7}")
    for r in rows:
        print(f"{r['model']:<24} {r['device']:<30} {r['published_ms']:>12.2f} {r['estimate_ms']:>11.2f} {r['error']:>+7.0%}")
    errors = [abs(r["error"]) for r in rows]
    median, worst = statistics.median(errors), max(errors)
    print(f"{len(rows)} pairs: median absolute error {median:.0%} (goal <= 25%), maximum {worst:.0%} (goal <= 60%)")
    print("sources: " + "; ".join(sorted({r['source'].split('/blob/')[0] for r in rows})))
    if args.json:
        args.json.write_text(json.dumps({"pairs": rows, "median_abs_error": median, "max_abs_error": worst,
                                         "goal": {"median": 0.25, "max": 0.60}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
