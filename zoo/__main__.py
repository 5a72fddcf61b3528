"""python -m zoo list [--json]
python -m zoo make NAME [NAME ...] [--seed 0] [--root DIR] [--force]    # prints one JSON line per model

`make` generates into the cache (see zoo/cache.py) and prints the ZooModel with absolute paths;
scripts/zoo.py runs it in a subprocess per model so TensorFlow and torch never share a process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(prog="python -m zoo")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("--json", action="store_true")
    mk = sub.add_parser("make")
    mk.add_argument("names", nargs="+")
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--root")
    mk.add_argument("--force", action="store_true")
    args = p.parse_args(argv)

    from zoo import REGISTRY, make

    if args.cmd == "list":
        if args.json:
            print(json.dumps([asdict(e) for e in REGISTRY.values()], indent=1))
        else:
            for e in REGISTRY.values():
                print(f"{e.name:28} {e.framework:7} {e.task:15} {','.join(e.families):30} "
                      f"{'trained' if e.trained_rungs else 'untrained-only'}  {e.notes}")
        return 0
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        print(f"unknown zoo model(s) {unknown}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    for name in args.names:
        zm = make(name, args.seed, args.root, force=args.force)
        d = zm.to_dict()
        d.update(model=str(zm.model), calibration=str(zm.calibration), eval=str(zm.eval))
        print(json.dumps(d), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
