"""Small synthetic device profiles for cost-model tests: round numbers so expected values can be
computed by hand. They are test inputs, not descriptions of real devices."""

from __future__ import annotations

from edge_sdk.profiles import Profile


def make_profile(family: str = "android", **runtime) -> Profile:
    mcu = family == "cortex-m"
    units = [{"name": "cpu", "dtypes": {"int8": 4e8, "float32": 1e8}, "efficiency": 0.5, "source": "test"}]
    if not mcu:
        units.append({"name": "gpu", "dtypes": {"float16": 1e10, "float32": 5e9}, "efficiency": 0.1, "source": "test"})
    data = {
        "name": f"test-{family}",
        "family": family,
        "description": "synthetic test profile",
        "memory": {
            "ram_bytes": 512 * 1024 if mcu else 8 << 30,
            "ram_budget_bytes": 256 * 1024 if mcu else 256 << 20,
            "flash_bytes": 1 << 20 if mcu else 64 << 30,
            "flash_budget_bytes": 768 * 1024 if mcu else 100 << 20,
            "source": "test",
        },
        "compute": {"cpu": "test", "clock_hz": 100_000_000, "units": units, "source": "test"},
        "runtime": {
            "formats": runtime.get("formats", ["tflm"] if mcu else ["tflite"]),
            "dtypes": runtime.get("dtypes", ["int8"] if mcu else ["int8", "float16", "float32"]),
            "ops": runtime.get("ops", {"tflite": ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]}),
            "source": "test",
        },
        "latency_budget_ms": 100,
        "connection": {"kind": "serial" if mcu else "adb"},
        "sources": ["test"],
    }
    return Profile.model_validate(data)
