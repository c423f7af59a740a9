"""Two tiers of CLI errors: expected ones print one line; unexpected ones leave a traceback in a debug file."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from tiation.errors import TiationError
from tiation.redact import redact


def debug_log_path() -> Path:
    """Where unexpected tracebacks go: `.tiation/debug.log` beside the platform file (or the cwd)."""
    base = os.environ.get("TIATION_FILE")
    root = Path(base).resolve().parent if base else Path.cwd()
    return root / ".tiation" / "debug.log"


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(code)


def run_guarded(run: Callable[[], Any], argv: Sequence[str]) -> Any:
    """Run the CLI; turn every error into a clear message and an exit code, never a raw traceback."""
    from tiation.cli.output import error_line

    try:
        result = run()
    except TiationError as exc:
        error_line(str(exc))
        _exit(exc.exit_code)
    except click.exceptions.Abort:
        error_line("aborted")
        _exit(1)
    except click.ClickException as exc:
        error_line(exc.format_message())
        _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        _exit(exc.exit_code)
    except KeyboardInterrupt:
        error_line("interrupted")
        _exit(130)
    except Exception as exc:
        path = debug_log_path()
        try:
            from tiation.private import open_private_append, private_dir

            private_dir(path.parent)
            with open_private_append(path) as fh:
                fh.write(redact(f"--- {' '.join(argv)}\n{traceback.format_exc()}\n").encode())
            where = f"traceback in {path}"
        except OSError:
            where = "no debug log could be written"
        error_line(f"unexpected {type(exc).__name__}: {exc} ({where}; please report this)")
        _exit(70)
    if isinstance(result, int) and result != 0:
        _exit(result)
    return result
