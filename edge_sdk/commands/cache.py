"""`edge-sdk cache info|prune|clear`: look after the build cache (trained steps and built attempts).

Which cache: `--dir`, else `cache_dir:` of edge-sdk.yaml in the working directory, else
`$EDGE_SDK_CACHE_DIR`, else `.edge-sdk-cache/` here: the one `edge-sdk build` in this directory uses.
No ML framework is imported.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import typer

from edge_sdk.commands.common import JsonOption, print_json, print_plain_table
from edge_sdk.units import human_bytes

cache_app = typer.Typer(
    name="cache",
    help="Show, prune or clear the build cache.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
DirOption = typer.Option(None, "--dir", help="The cache directory (default: the one `edge-sdk build` here uses).")


def _cache(directory: Optional[Path]):
    from edge_sdk.cache import StepCache, default_cache_dir
    from edge_sdk.project import find_project, load_project

    if directory is None:
        project = find_project(Path.cwd())
        configured = load_project(project).cache_dir if project else None
        directory = configured or default_cache_dir(Path.cwd())
    return StepCache(directory)


@cache_app.command("info")
def info_command(directory: Optional[Path] = DirOption, json_out: bool = JsonOption) -> None:
    """Where the cache is, how many entries and bytes it holds, and which entries are damaged."""
    cache = _cache(directory)
    entries = cache.entries()
    damaged = [e for e in entries if e.damage]
    if json_out:
        print_json({"directory": str(cache.directory), "entries": len(entries), "bytes": sum(e.bytes for e in entries),
                    "damaged": [{"key": e.key, "damage": e.damage} for e in damaged]})
        return
    typer.echo(f"{cache.directory}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
               f"{human_bytes(sum(e.bytes for e in entries))}")
    if entries:
        now = time.time()
        rows = [[e.key[:12], human_bytes(e.bytes), f"{(now - e.last_used) / 86400:.1f} d", e.damage or "ok"] for e in entries]
        print_plain_table("entries (last used: days ago)", ["key", "size", "last used", "files"], rows,
                          right=frozenset({"size", "last used"}))


@cache_app.command("prune")
def prune_command(
    older_than: float = typer.Option(30.0, "--older-than", help="Remove entries not used for this many days."),
    directory: Optional[Path] = DirOption,
) -> None:
    """Remove entries unused for --older-than days, damaged entries and leftovers of killed builds."""
    if not math.isfinite(older_than) or older_than < 0:
        raise typer.BadParameter(f"{older_than} is not a number of days >= 0", param_hint="--older-than")
    cache = _cache(directory)
    removed = cache.prune(older_than * 86400)
    typer.echo(f"{cache.directory}: removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
               f"({human_bytes(sum(e.bytes for e in removed))}); {len(cache.entries())} left")


@cache_app.command("clear")
def clear_command(directory: Optional[Path] = DirOption) -> None:
    """Remove every entry (only files the cache wrote; anything else in the directory stays)."""
    cache = _cache(directory)
    typer.echo(f"{cache.directory}: removed {cache.clear()} entries")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
