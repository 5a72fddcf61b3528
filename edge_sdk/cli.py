"""The `edge-sdk` command: a thin typer layer over the public API.

Each command lives in `edge_sdk/commands/<name>.py` and imports heavy frameworks only inside its body,
so `edge-sdk --help` and `edge-sdk profiles list` never load TensorFlow, torch or coremltools.
Exit codes: 0 ok; 2 bad usage or input (one line, no traceback); 3 no candidate met the budgets;
1 internal error (traceback, please report).
"""

from __future__ import annotations

import gc
import os
import sys

# pydantic scans every installed package's entry points for plugins when the first model is built:
# a tenth of a second of `edge-sdk profiles list`, for plugins edge-sdk does not use.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")

import typer  # noqa: E402

from edge_sdk.commands import register_all  # noqa: E402
from edge_sdk.errors import EdgeSDKError  # noqa: E402

app = typer.Typer(
    name="edge-sdk",
    help="Fit, compress, export, verify and benchmark models for Android, iOS, Cortex-M and Jetson.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer's rich help renderer alone doubles `--help` start-up time
)


def _print_version(value: bool) -> None:
    if value:
        from edge_sdk import __version__

        typer.echo(f"edge-sdk {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    """Fit, compress, export, verify and benchmark models for Android, iOS, Cortex-M and Jetson."""


register_all(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code (also used in-process by tests)."""
    try:
        code = app(args=argv, standalone_mode=False)  # click returns (not raises) a typer.Exit's code here
    except EdgeSDKError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted; nothing half-written was left in place", err=True)
        return 130
    except Exception as exc:  # click usage errors carry their own exit code
        import click
        from typer._click import exceptions as vendored_click  # typer 0.29 vendors its own click

        if isinstance(exc, (click.exceptions.ClickException, vendored_click.ClickException)):
            exc.show()
            return 2
        import traceback

        traceback.print_exc()
        typer.echo(
            f"internal error in edge-sdk ({exc.__class__.__name__}); this is a bug, not your input: "
            "please report it with the traceback above", err=True,
        )
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """The console script: `main`, then exit. The final garbage collection is skipped (`gc.freeze`):
    once TensorFlow or torch is loaded, collecting their object graphs at exit costs ~1 s per build
    and frees nothing the OS would not."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
