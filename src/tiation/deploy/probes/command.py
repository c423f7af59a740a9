"""The `command` probe kind: run an argument list on the deploying host; passing on the expected exit code."""

from __future__ import annotations

import subprocess

from tiation.config.probes import CommandCheck
from tiation.deploy.probes.base import ProbeContext, run_check, timed_out


@run_check.register
def run_command(check: CommandCheck, ctx: ProbeContext) -> tuple[bool, str]:
    """Run `check.command` (`{host}`, `{port}`, `{version}` filled in)."""
    args = [ctx.fill(arg) for arg in check.command]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=ctx.timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return False, f"command not found: {args[0]}"
    except PermissionError:
        return False, f"cannot run {args[0]}: permission denied"
    except subprocess.TimeoutExpired:
        return False, timed_out(ctx.timeout)
    except OSError as exc:
        return False, f"cannot run {args[0]}: {exc.strerror or exc}"
    if done.returncode != check.expect_exit:
        detail = f"exit code {done.returncode} (expected {check.expect_exit})"
        output = (done.stderr or done.stdout).strip().splitlines()
        return False, detail + (f": {output[-1].strip()}" if output else "")
    return True, f"exit code {done.returncode}"
