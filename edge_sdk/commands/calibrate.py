"""`edge-sdk calibrate BENCH.json... --profile P --out overlay.yaml`: fit a unit's per-op-kind kernel
costs to latencies measured on the device, and write a profile overlay that `extends:` P."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edge_sdk.commands.common import JsonOption, ProfilesDirOption, print_json, print_plain_table


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_command(
        bench_files: list[Path] = typer.Argument(..., metavar="BENCH_JSON", help="bench.json files `edge-sdk bench` wrote (one per artifact), all from the same device."),
        out: Path = typer.Option(..., "--out", "-o", help="The overlay profile to write (YAML)."),
        profile_name: Optional[str] = typer.Option(None, "--profile", "-p", help="The profile to extend (default: the one the bench.json files name)."),
        name: Optional[str] = typer.Option(None, "--name", help="The overlay's profile name (default: <profile>-calibrated)."),
        unit: Optional[str] = typer.Option(None, "--unit", help="The compute unit measured (default: the format's first unit)."),
        library: str = typer.Option("measured", "--library", help="The kernel library the device ran (cmsis-nn, xnnpack, ...), recorded in the overlay."),
        profiles_dir: Optional[Path] = ProfilesDirOption,
        json_out: bool = JsonOption,
    ) -> None:
        """Fit per-op-kind latency coefficients to device measurements; write a profile overlay."""
        import yaml

        from edge_sdk.atomic_text import write_text_atomic
        from edge_sdk.errors import ConfigError
        from edge_sdk.planner.calibrate import fit, overlay, pick_unit, rate_prior, read_samples
        from edge_sdk.profiles import get_profile, load_profile_file

        samples, named, formats = read_samples(bench_files)
        if len(formats) != 1:
            raise ConfigError(f"the bench.json files hold artifacts of several formats ({', '.join(sorted(formats))}); calibrate one format at a time")
        if profile_name is None:
            if len(named) != 1:
                raise ConfigError("the bench.json files name " + (f"profiles {', '.join(sorted(named))}" if named else "no profile")
                                  + "; pass --profile NAME")
            profile_name = named.pop()
        profile = get_profile(profile_name, profiles_dir)
        fmt = formats.pop()
        dtypes = {s.dtype for s in samples}
        if len(dtypes) != 1:
            raise ConfigError(f"the artifacts run several compute dtypes ({', '.join(sorted(dtypes))}); calibrate one precision at a time")
        dtype, measured_unit = dtypes.pop(), pick_unit(profile, fmt, unit)
        result = fit(samples, profile.compute.clock_hz, rate_prior(profile, measured_unit, dtype))
        document = overlay(profile, measured_unit, dtype, result, name or f"{profile.name}-calibrated", library,
                           [str(p) for p in bench_files])
        staged = write_text_atomic(out.with_name(f".{out.name}.checking.yaml"), yaml.safe_dump(document, sort_keys=False))
        try:
            load_profile_file(staged, profiles_dir)  # what `profiles show` will read
        except BaseException:
            staged.unlink()
            raise
        staged.replace(out)
        if json_out:
            print_json({"overlay": str(out), "profile": document["name"], "extends": profile.name, **result.summary(),
                        "cycles": result.cycles})
            return
        print_plain_table(f"fit over {len(samples)} measurement(s) on {profile.name}", ["artifact", "error", "leave-one-out"],
                          [[s.name, f"{result.errors[s.name]:+.0%}",
                            f"{result.loo_errors[s.name]:+.0%}" if s.name in result.loo_errors else "-"] for s in samples],
                          right=frozenset({"error", "leave-one-out"}))
        print("cycles: " + ", ".join(f"{k} {v:.4g}" for k, v in result.cycles.items()))
        print(f"wrote {out} (profile {document['name']}, extends {profile.name}); use it with --profiles-dir {out.parent}")

