"""Properties of `decide_retention` that hold for any backups and any policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tiation.backup.retention import BackupFacts, RetentionDecision, RetentionPolicy, decide_retention

NOW = datetime(2027, 1, 1, tzinfo=UTC)
FLOORS = {
    "pinned",
    "newest verified",
    "newest (none verified yet)",
    "newest (every verify failed)",
    "min_keep floor",
}
ZONES = ["UTC", "Australia/Sydney", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]


@st.composite
def backups(draw: st.DrawFn) -> list[BackupFacts]:
    count = draw(st.integers(min_value=0, max_value=30))
    # Minutes before NOW, up to ~2 years; repeats give equal finish times, a few are in the future.
    ages = draw(
        st.lists(st.integers(min_value=-120, max_value=2 * 365 * 1440), min_size=count, max_size=count)
    )
    out = []
    for i, age in enumerate(ages):
        out.append(
            BackupFacts(
                id=f"b{i:02d}",
                finished_at=NOW - timedelta(minutes=age),
                verified=draw(st.sampled_from([True, False, None])),
                pinned=draw(st.integers(0, 4)) == 0,  # about one in five
            )
        )
    return out


policies = st.builds(
    RetentionPolicy,
    keep_last=st.integers(0, 5),
    hourly=st.integers(0, 5),
    daily=st.integers(0, 5),
    weekly=st.integers(0, 5),
    monthly=st.integers(0, 5),
    yearly=st.integers(0, 3),
    max_age=st.none() | st.integers(1, 400 * 24).map(lambda h: timedelta(hours=h)),
    min_keep=st.integers(0, 6),
    max_delete_share=st.floats(min_value=0.01, max_value=1.0),
    timezone=st.sampled_from(ZONES),
)


def _newest(items: list[BackupFacts]) -> BackupFacts | None:
    return max(items, key=lambda b: (b.finished_at, b.id), default=None)


def _check(items: list[BackupFacts], policy: RetentionPolicy, force: bool, d: RetentionDecision) -> None:
    ids = {b.id for b in items}
    assert set(d.keep) | set(d.delete) == ids
    assert not set(d.keep) & set(d.delete)
    assert all(d.keep.values())  # every kept backup says why
    for b in items:
        if b.pinned:
            assert "pinned" in d.keep[b.id]
    newest_verified = _newest([b for b in items if b.verified is True])
    if newest_verified is not None:
        assert "newest verified" in d.keep[newest_verified.id]
    assert len(d.keep) >= min(policy.min_keep, len(items))
    if items:
        assert d.keep  # never deletes the last backup
    if not force:
        assert len(d.delete) <= policy.max_delete_share * len(items) + 1e-9
    if d.refused is not None:
        assert not d.delete and not force
    for b in items:
        too_old = policy.max_age is not None and NOW - b.finished_at > policy.max_age
        if b.id in d.keep and (b.verified is False or too_old):
            # rules never select a failed or too-old backup: only a floor (or the refusal) keeps it
            assert all(r in FLOORS or r.startswith("refused: ") for r in d.keep[b.id]), d.keep[b.id]


@settings(max_examples=300, deadline=None)
@given(items=backups(), policy=policies, force=st.booleans())
def test_safety_properties(items: list[BackupFacts], policy: RetentionPolicy, force: bool) -> None:
    _check(items, policy, force, decide_retention(items, policy, now=NOW, force=force))


@settings(max_examples=200, deadline=None)
@given(items=backups(), policy=policies, force=st.booleans(), data=st.data())
def test_deterministic_and_independent_of_input_order(
    items: list[BackupFacts], policy: RetentionPolicy, force: bool, data: st.DataObject
) -> None:
    first = decide_retention(items, policy, now=NOW, force=force)
    assert decide_retention(items, policy, now=NOW, force=force) == first
    shuffled = data.draw(st.permutations(items))
    again = decide_retention(shuffled, policy, now=NOW, force=force)
    assert again == first
    assert list(again.keep) == list(first.keep) and list(again.delete) == list(first.delete)


@settings(max_examples=200, deadline=None)
@given(items=backups(), policy=policies)
def test_force_only_lifts_the_share_guard(items: list[BackupFacts], policy: RetentionPolicy) -> None:
    plain = decide_retention(items, policy, now=NOW)
    forced = decide_retention(items, policy, now=NOW, force=True)
    assert forced.refused is None
    if plain.refused is None:
        assert plain == forced
    else:
        assert set(plain.keep) == set(forced.keep) | set(forced.delete)
        assert all(plain.keep[i] == forced.keep[i] for i in forced.keep)
        assert all(plain.keep[i] == (f"refused: {why}",) for i, why in forced.delete.items())
