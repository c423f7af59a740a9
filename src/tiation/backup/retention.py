"""Backup retention: which backups may be deleted, decided by a pure function with safety floors.

The seed's ``find -mtime +30 -delete`` deletes every backup once backups stop. `decide_retention` never can:
it takes what is known about each backup (`BackupFacts`), a `RetentionPolicy` and the current time, and
returns a `RetentionDecision` naming, for every backup, why it stays or why it may go. It deletes nothing
itself, reads no clock and does no I/O (time zone rules come from `zoneinfo`). The rules follow restic's
``forget``; the floors follow Barman's minimum redundancy and pinned ("keep") backups.

Order. Backups are ordered by ``finished_at``, ties broken by ``id``: of two backups finished at the same
instant, the one with the greater id counts as the newer. The result does not depend on input order.

Eligibility. A backup can be selected by a rule only if its last verify did not fail (``verified is not
False``; never-verified backups are eligible) and it is not older than ``max_age`` (``now - finished_at >
max_age`` makes it ineligible). A backup whose verify failed must never be what a rule keeps in place of a
good one, so rules skip it and count only eligible backups. Ineligible backups can still be kept by a floor.

Rules (a backup kept by several rules lists every reason):

- ``keep_last N``: the N newest eligible backups ("keep_last 1/3" … "keep_last 3/3").
- ``hourly`` / ``daily`` / ``weekly`` / ``monthly`` / ``yearly N``: the newest eligible backup of each calendar
  bucket, for the N most recent buckets that have an eligible backup; buckets without one do not use up the
  count. Buckets are computed in ``policy.timezone``: a backup at 23:30 UTC falls on the next day in
  Australia/Sydney. Weeks are ISO weeks ("weekly 2026-W01" may start in December). Hourly buckets are real
  hours: when clocks fall back, the repeated wall-clock hour is two buckets, told apart by the UTC offset
  ("hourly 2026-04-05T02:00+11:00"). Reasons: "daily 2026-11-28", "monthly 2026-11", "yearly 2026".

Floors (always applied after the rules, with or without ``force``):

- every pinned backup is kept ("pinned");
- the newest backup with ``verified is True`` is kept ("newest verified"); if no backup has passed a verify,
  the newest never-verified backup is kept ("newest (none verified yet)"), and if every backup failed its
  verify, the newest one is kept ("newest (every verify failed)");
- while fewer than ``min_keep`` backups are kept, the newest not-yet-kept backup is added ("min_keep floor"),
  preferring verified backups, then never-verified ones, then failed ones.

Everything else may be deleted, with the reasons that apply: "older than max_age 30d", "verify failed", or
else "not selected by any rule".

Share guard. If more than ``max_delete_share`` of the backups (rounded down to a whole count) would be
deleted and ``force`` is false, the decision is refused: ``refused`` says why, ``delete`` is empty, and each
backup that would have gone is kept with the single reason "refused: <why it would have gone>" (backups kept
anyway keep their own reasons). With ``force`` the deletions stand; the floors still hold.

Misuse is a bug and raises `ValueError`: a naive ``finished_at`` or ``now``, or two backups with one id. A
wrong policy raises `tiation.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiation.errors import ConfigError

__all__ = ["BackupFacts", "RetentionDecision", "RetentionPolicy", "decide_retention"]

_COUNT_FIELDS = ("keep_last", "hourly", "daily", "weekly", "monthly", "yearly", "min_keep")


@dataclass(frozen=True)
class BackupFacts:
    """What retention knows about one backup."""

    id: str
    finished_at: datetime
    """When the backup finished; timezone-aware (UTC by convention)."""
    verified: bool | None
    """True: the last verify passed; False: it failed; None: never verified."""
    pinned: bool = False
    size: int = 0

    def __post_init__(self) -> None:
        if self.finished_at.tzinfo is None or self.finished_at.utcoffset() is None:
            raise ValueError(f"backup {self.id!r}: finished_at must be timezone-aware")


@dataclass(frozen=True)
class RetentionPolicy:
    """How many backups to keep, by rule, and the safety limits. Zero counts switch a rule off."""

    keep_last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    max_age: timedelta | None = None
    """Backups older than this are not selected by any rule (floors still apply)."""
    min_keep: int = 1
    """Floor: never fewer than this many backups remain."""
    max_delete_share: float = 0.5
    """Refuse to delete more than this share of the backups in one run unless forced."""
    timezone: str = "UTC"
    """IANA zone (zoneinfo) the calendar buckets (hour, day, week, month, year) are computed in."""

    def __post_init__(self) -> None:
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"must be a whole number, got {value!r}", field=name)
            if value < 0:
                raise ConfigError(f"must be 0 or more, got {value}", field=name)
        if self.max_age is not None and (
            not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0)
        ):
            raise ConfigError(f"must be a positive duration, got {self.max_age!r}", field="max_age")
        share = self.max_delete_share
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or math.isnan(share)
            or not 0 < share <= 1
        ):
            raise ConfigError(f"must be more than 0 and at most 1, got {share!r}", field="max_delete_share")
        _zone(self.timezone)


@dataclass(frozen=True)
class RetentionDecision:
    """The outcome: every input backup is in exactly one of `keep` and `delete`."""

    keep: dict[str, tuple[str, ...]]
    """Backup id -> every reason it stays, rules first, then floors."""
    delete: dict[str, str]
    """Backup id -> why it may be deleted."""
    refused: str | None
    """Why nothing is deleted although rules would delete (the share guard), else None."""


def decide_retention(
    backups: Sequence[BackupFacts], policy: RetentionPolicy, *, now: datetime, force: bool = False
) -> RetentionDecision:
    """Decide which backups to keep and which may be deleted; see the module docstring for the semantics."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    seen: set[str] = set()
    for backup in backups:
        if backup.id in seen:
            raise ValueError(f"backup id {backup.id!r} appears more than once")
        seen.add(backup.id)

    newest_first = sorted(backups, key=lambda b: (b.finished_at, b.id), reverse=True)
    reasons: dict[str, list[str]] = {b.id: [] for b in newest_first}

    def too_old(b: BackupFacts) -> bool:
        return policy.max_age is not None and now - b.finished_at > policy.max_age

    eligible = [b for b in newest_first if b.verified is not False and not too_old(b)]
    _apply_rules(eligible, policy, reasons)
    _apply_floors(newest_first, policy, reasons)

    keep = {b.id: tuple(reasons[b.id]) for b in newest_first if reasons[b.id]}
    delete: dict[str, str] = {}
    for b in newest_first:
        if b.id in keep:
            continue
        why = []
        if too_old(b):
            why.append(f"older than max_age {_duration(policy.max_age)}")
        if b.verified is False:
            why.append("verify failed")
        delete[b.id] = "; ".join(why) or "not selected by any rule"

    total = len(newest_first)
    allowed = math.floor(policy.max_delete_share * total + 1e-9)
    if delete and len(delete) > allowed and not force:
        refused = (
            f"would delete {len(delete)} of {total} backups, more than max_delete_share "
            f"{policy.max_delete_share:g} allows ({allowed}); use force to delete anyway"
        )
        keep = {b.id: keep[b.id] if b.id in keep else (f"refused: {delete[b.id]}",) for b in newest_first}
        return RetentionDecision(keep=keep, delete={}, refused=refused)
    return RetentionDecision(keep=keep, delete=delete, refused=None)


def _apply_rules(eligible: list[BackupFacts], policy: RetentionPolicy, reasons: dict[str, list[str]]) -> None:
    """Add rule reasons to `reasons` for the (newest-first) eligible backups."""
    for rank, b in enumerate(eligible[: policy.keep_last], start=1):
        reasons[b.id].append(f"keep_last {rank}/{policy.keep_last}")
    zone = _zone(policy.timezone)
    calendar: tuple[tuple[str, int, Callable[[datetime], str]], ...] = (
        ("hourly", policy.hourly, _hour_bucket),
        ("daily", policy.daily, lambda t: t.strftime("%Y-%m-%d")),
        ("weekly", policy.weekly, _week_bucket),
        ("monthly", policy.monthly, lambda t: t.strftime("%Y-%m")),
        ("yearly", policy.yearly, lambda t: f"{t.year:04d}"),
    )
    for rule, count, bucket_of in calendar:
        if count <= 0:
            continue
        buckets: set[str] = set()
        for b in eligible:
            bucket = bucket_of(b.finished_at.astimezone(zone))
            if bucket in buckets:
                continue  # an older backup of a bucket already kept
            buckets.add(bucket)
            reasons[b.id].append(f"{rule} {bucket}")
            if len(buckets) >= count:
                break


def _apply_floors(
    newest_first: list[BackupFacts], policy: RetentionPolicy, reasons: dict[str, list[str]]
) -> None:
    """Add floor reasons: pinned, the newest (verified) backup, then min_keep."""
    for b in newest_first:
        if b.pinned:
            reasons[b.id].append("pinned")
    floors = (
        (True, "newest verified"),
        (None, "newest (none verified yet)"),
        (False, "newest (every verify failed)"),
    )
    for state, reason in floors:
        newest = next((b for b in newest_first if b.verified is state), None)
        if newest is not None:
            reasons[newest.id].append(reason)
            break
    kept = sum(1 for b in newest_first if reasons[b.id])
    if kept >= policy.min_keep:
        return
    preference = {True: 0, None: 1, False: 2}
    candidates = sorted(
        (b for b in newest_first if not reasons[b.id]),
        key=lambda b: preference[b.verified],  # stable: newest first within each verify state
    )
    for b in candidates[: policy.min_keep - kept]:
        reasons[b.id].append("min_keep floor")


def _hour_bucket(local: datetime) -> str:
    return local.replace(minute=0, second=0, microsecond=0).isoformat(timespec="minutes")


def _week_bucket(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _zone(name: str) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"must be a time zone name, got {name!r}", field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"unknown time zone {name!r}", field="timezone") from None


def _duration(span: timedelta | None) -> str:
    """A short form of a duration: 30d, 36h, 90m, 45s."""
    if span is None:
        return "none"
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
