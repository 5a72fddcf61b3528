"""The build cache's effect: the bundled example built twice with the same inputs and a fresh cache.

    python scripts/bench_cache.py [--json FILE] [--target T ...]

Run 1 starts from an empty cache dir (EDGE_SDK_CACHE_DIR), run 2 is identical. Prints both wall times,
the speed-up (goal >= 3x) and whether every artifact is byte-identical between the two runs.
Default targets: every target in examples/digits/edge-sdk.yaml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/digits"


def artifact_hashes(out: Path) -> dict[str, str]:
    hashes = {}
    for report_path in sorted(out.glob("*/report.json")):
        report = json.loads(report_path.read_text())
        for artifact in report["artifacts"]:
            for name in artifact["files"]:
                path = report_path.parent / name
                files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
                for f in files:
                    hashes[str(f.relative_to(out))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return hashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--target", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EDGE_SDK_CACHE_DIR": f"{tmp}/cache"}
        runs = []
        for i in (1, 2):
            out = Path(tmp) / f"out{i}"
            cmd = [sys.executable, "-m", "edge_sdk.cli", "build", "--out", str(out), "--quiet"]
            for t in args.target:
                cmd += ["--target", t]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=EXAMPLE, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode not in (0, 3):
                sys.exit(f"build {i} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
            runs.append({"wall_s": wall, "hashes": artifact_hashes(out)})
    speedup = runs[0]["wall_s"] / runs[1]["wall_s"]
    identical = runs[0]["hashes"] == runs[1]["hashes"] and bool(runs[0]["hashes"])
    print(f"{'run':<22} {'wall s':>8}")
    print(f"{'1 (empty cache)':<22} {runs[0]['wall_s']:>8.2f}")
    print(f"{'2 (identical, cached)':<22} {runs[1]['wall_s']:>8.2f}")
    print(f"speed-up {speedup:.2f}x (goal >= 3x); artifacts byte-identical: {identical} ({len(runs[0]['hashes'])} files)")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": [r["wall_s"] for r in runs], "speedup": speedup, "identical": identical,
                                         "files": len(runs[0]["hashes"])}, indent=2) + "\n")


if __name__ == "__main__":
    main()
