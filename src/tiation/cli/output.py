"""Output for humans and machines.

Human output uses Rich on a terminal and plain lines when piped; `--json` prints one JSON document on stdout
and nothing else there. Everything goes through `tiation.redact` first, so no secret reaches a terminal or pipe.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tiation.redact import redact
from tiation.words import plural

__all__ = ["Output", "error_line", "plural", "progress_reporter", "warning_line"]


class Output:
    """Where a command's results and progress go."""

    def __init__(self, *, json_mode: bool = False, stream: Any = None) -> None:
        self.json_mode = json_mode
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) and not json_mode
        self._console: Any = None

    @property
    def console(self) -> Any:
        """A Rich console (imported only when a terminal needs it)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """One human line (suppressed in JSON mode)."""
        if self.json_mode:
            return
        text = redact(text)
        if self.tty:
            from rich.markup import escape

            self.console.print(f"[{style}]{escape(text)}[/]" if style else escape(text))
        else:
            print(text, file=self.stream, flush=True)

    def data(self, payload: Any) -> None:
        """The command's result as JSON (JSON mode only)."""
        if self.json_mode:
            print(
                redact(json.dumps(payload, indent=2, sort_keys=True, default=str)),
                file=self.stream,
                flush=True,
            )

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
    ) -> None:
        """A table: Rich on a terminal, aligned plain text when piped."""
        if self.json_mode:
            return
        cells = [[redact("" if c is None else str(c)) for c in row] for row in rows]
        if self.tty:
            from rich.table import Table

            table = Table(title=title, show_edge=False, header_style="bold")
            for col in columns:
                table.add_column(col)
            for row in cells:
                table.add_row(*row)
            self.console.print(table)
            return
        if title:
            print(title, file=self.stream)
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        print(
            "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
            file=self.stream,
        )
        for row in cells:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=self.stream)
        self.stream.flush()


def warning_line(message: str) -> None:
    """A warning: one line on stderr; the command goes on."""
    print(redact(f"warning: {message}"), file=sys.stderr, flush=True)


def error_line(message: str) -> None:
    """An expected error: one line on stderr."""
    print(redact(f"error: {message}"), file=sys.stderr, flush=True)


def progress_reporter(out: Output) -> Any:
    """A deploy progress callback: one line per step, and on a terminal a live spinner while verifying."""
    announced: set[str] = set()  # services whose "verifying" line was printed (plain output)
    spinner: list[Any] = []  # the live Rich status, when one is shown

    def stop_spinner() -> None:
        if spinner:
            spinner.pop().stop()

    def report(event: str, data: Mapping[str, Any]) -> None:
        svc = data.get("service", "")
        if event == "verify":
            if not out.tty:
                if svc not in announced:
                    out.line(f"  {svc}: verifying …")
                    announced.add(svc)
                return
            from rich.markup import escape

            text = escape(
                redact(f"{svc}: verifying {data.get('elapsed', 0):.1f}s — {data.get('waiting_for', '')}")
            )
            if not spinner:
                spinner.append(out.console.status(text))
                spinner[0].start()
            else:
                spinner[0].update(text)
            return
        stop_spinner()
        if event == "apply":
            kind = data.get("kind", "deploy")
            out.line(f"→ {svc}: {kind} {data.get('version')} (deployment {data.get('deployment_id')})")
            announced.discard(svc)
        elif event == "kept":
            out.line(f"✓ {svc} {data.get('version')} healthy: {data.get('verdict')}", style="green")
        elif event == "failed":
            out.line(
                f"✗ {svc} {data.get('version')} failed after {data.get('elapsed', 0):.1f}s: {data.get('verdict')}",
                style="red",
            )
        elif event == "restore":
            out.line(f"↺ {svc}: restoring last-known-good {data.get('version')}", style="yellow")
        elif event == "rolled_back":
            out.line(f"↺ {svc}: rolled back to {data.get('version')} — {data.get('verdict')}", style="yellow")
        elif event == "no_lkg":
            out.line(f"! {svc}: no known-good release to roll back to", style="red")
        elif event == "noop":
            out.line(f"= {svc} {data.get('version')} already serving", style="dim")

    return report
