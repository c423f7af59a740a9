"""The one exception tree.

Every error tiation raises on purpose is a `TiationError`. Each one carries a message that is safe to print
(no secret values), an exit code for the CLI, and whether retrying the same operation can help.
The CLI prints expected errors as one line; anything else is a bug and gets a traceback in a debug file.
"""

from __future__ import annotations


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
