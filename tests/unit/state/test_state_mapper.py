"""The one row mapper: fields by column name, converters by field type, on sqlite3 rows and SQLAlchemy rows."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tiation.state import alert_rows, catalog, oncall, rows, schema
from tiation.state.alerts import recent_deploy_row
from tiation.state.mapper import RowMapper


@dataclass(frozen=True)
class Sample:
    id: int
    at: datetime
    done_at: datetime | None
    ok: bool
    maybe: bool | None
    ratio: float
    doc: dict[str, Any]
    name: str
    note: str | None
    stamp: str
    derived: int


MAPPER = RowMapper(Sample, columns={"name": "label"}, convert={"stamp": str.upper}, given=("derived",))


def _sqlite_row(**values: Any) -> sqlite3.Row:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    names = ", ".join(f"? AS {k}" for k in values)
    row: sqlite3.Row = conn.execute(f"SELECT {names}", tuple(values.values())).fetchone()
    conn.close()
    return row


def test_converts_by_field_type_renames_and_takes_given_fields() -> None:
    row = _sqlite_row(
        id="7",
        at="2026-01-02 03:04:05.000006",
        done_at=None,
        ok=1,
        maybe=0,
        ratio=2,
        doc='{"a": [1]}',
        label="x",
        note=None,
        stamp="abc",
    )
    got = MAPPER(row, derived=3)
    assert got == Sample(
        id=7,
        at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        done_at=None,
        ok=True,
        maybe=False,
        ratio=2.0,
        doc={"a": [1]},
        name="x",
        note=None,
        stamp="ABC",
        derived=3,
    )
    assert got.at.tzinfo is UTC and isinstance(got.ratio, float) and got.ok is True


def test_empty_documents_and_optional_values() -> None:
    got = MAPPER(
        {
            "id": 1,
            "at": datetime(2026, 1, 1, 1, tzinfo=UTC),
            "done_at": "2026-01-01T02:00:00+02:00",
            "ok": 0,
            "maybe": None,
            "ratio": 0.5,
            "doc": "",
            "label": "y",
            "note": "n",
            "stamp": "s",
        },
        derived=0,
    )
    assert got.doc == {} and got.maybe is None and got.ok is False
    assert got.done_at == datetime(2026, 1, 1, 0, tzinfo=UTC) and got.done_at.tzinfo is UTC


def test_a_missing_column_is_an_error() -> None:
    with pytest.raises(IndexError):
        MAPPER(_sqlite_row(id=1), derived=0)


@pytest.mark.parametrize(
    ("mapper", "table"),
    [
        (rows.release_row, schema.releases),
        (rows.deployment_row, schema.deployments),
        (rows.lease_row, schema.leases),
        (rows.approval_row, schema.approvals),
        (rows.audit_row, schema.audit_events),
        (catalog.backup_row, schema.backups),
        (catalog.drill_row, schema.drills),
        (oncall.override_row, schema.oncall_overrides),
        (alert_rows.incident_row, schema.incidents),
        (alert_rows.alert_row, schema.alerts),
        (alert_rows.event_row, schema.incident_events),
        (alert_rows.silence_row, schema.silences),
        (alert_rows.step_row, schema.escalation_steps),
        (alert_rows.outbox_row, schema.outbox),
        (recent_deploy_row, schema.deployments),
    ],
)
def test_every_row_type_reads_columns_its_table_has(mapper: RowMapper[Any], table: Any) -> None:
    assert {column for _, column, _ in mapper.plan} <= set(table.c.keys())
