"""The one exception tree.

Every error tiation raises on purpose is a `TiationError`. Each one carries a message that is safe to print
(no secret values), an exit code for the CLI, and whether retrying the same operation can help.
The CLI prints expected errors as one line; anything else is a bug and gets a traceback in a debug file.
"""

from __future__ import annotations

from collections.abc import Iterable


class TiationError(Exception):
    """Base of every expected error. `str(err)` is one line, safe to show a user."""

    exit_code: int = 1
    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(TiationError):
    """The platform file (or a value given on the command line) is wrong. Retrying cannot help."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.column, self.field = file, line, column, field
        where = ""
        if file is not None:
            where = file
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}", hint=hint, retryable=False)


class UsageError(TiationError):
    """A command-line argument is wrong (unknown environment, service, version …)."""

    exit_code = 2


class StateError(TiationError):
    """The state store cannot be opened, migrated or written."""


class LockHeldError(TiationError):
    """Another operation holds the lease for this (environment, service)."""

    retryable = True


class TargetError(TiationError):
    """A target (local processes, Docker, Kubernetes) refused or failed an operation."""


class ProbeError(TiationError):
    """A health probe is misconfigured (not: a probe that failed, which is a result, not an error)."""


class DeployError(TiationError):
    """A deploy or rollback could not be carried out or did not pass verification."""


class ApprovalError(DeployError):
    """An approval is missing, expired, for another release, or given by the deployer themself."""


class QuarantinedError(DeployError):
    """The release failed verification before; deploying it again needs --force."""


class BackupError(TiationError):
    """A backup, verify, restore or drill failed. The message names the backup and the failing stage."""


class IntegrityError(BackupError):
    """Stored backup data does not match its manifest (a checksum or size differs): never restore it."""


class NotifyError(TiationError):
    """A notification could not be delivered; `retryable` says whether the outbox should try again."""


class AlertError(TiationError):
    """An alert or incident request is wrong, or refers to something that does not exist."""

    exit_code = 2


class ConfigErrors(ConfigError):
    """Several independent mistakes in the platform file, sorted by position (`validate` prints them all).

    As a ConfigError it reads as the first one, so a command that stops at the first line says the same as
    before; `errors` holds every one (at most `cap`), `more` how many were left out beyond the cap.
    """

    def __init__(self, errors: list[ConfigError], *, more: int = 0) -> None:
        first = errors[0]
        super().__init__(first.message, hint=first.hint)
        self.file, self.line, self.column, self.field = first.file, first.line, first.column, first.field
        self.errors = errors
        self.more = more


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a mistyped `name`, or None when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_name(kind: str, name: str, known: Iterable[str], *, also: str = "") -> UsageError:
    """`unknown service 'cmz' (did you mean 'cms'?)`, else the known names (plus `also`, e.g. "or 'all'")."""
    names = sorted(known)
    close = did_you_mean(name, names)
    if close is not None:
        return UsageError(f"unknown {kind} {name!r} (did you mean {close!r}?)")
    listed = ", ".join(names) + (f", {also}" if also and names else also)
    return UsageError(f"unknown {kind} {name!r} (known: {listed or 'none defined'})")
