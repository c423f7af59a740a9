"""The `log` notifier: one redacted JSON line per notification, a path relative to the platform file, and
the registry that makes a notifier kind one module + one settings model + one line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest
from notifier_samples import sample

from tiation.alerting.notifiers import Recipient, RetryLater, Sent, make_notifier
from tiation.alerting.notifiers.factory import IMPLEMENTATIONS, implementation
from tiation.alerting.notifiers.log import LogNotifier, line
from tiation.clock import FakeClock
from tiation.config import notifiers as cfg
from tiation.config.loader import load_platform
from tiation.errors import ConfigError
from tiation.redact import MASK, register_secret

HEAD = "version: 1\nproject: {name: p}\nenvironments: {dev: {target: fake}}\nservices: {a: {port: 8000}}\n"
NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


def _platform(tmp_path: Path, notifiers: str) -> dict[str, cfg.Notifier]:
    (tmp_path / "tiation.yaml").write_text(HEAD + dedent(notifiers))
    return load_platform(tmp_path / "tiation.yaml").platform.notifiers


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(text) for text in path.read_text().splitlines()]


def test_every_kind_has_exactly_one_implementation() -> None:
    assert set(IMPLEMENTATIONS) == set(cfg.KINDS)
    for kind in cfg.KINDS:
        assert implementation(kind).kind == kind  # type: ignore[attr-defined]


def test_each_notification_is_one_json_line(tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    notifier = LogNotifier("local", cfg.LogNotifier(kind="log", path=str(target)), clock=FakeClock(NOW))
    assert notifier.send(sample()) == Sent()
    ann = Recipient(name="Ann", email="ann@example.com", phone="+1-555-0101")
    assert notifier.send(sample(event="escalate", recipient=ann, key="inc-7/1/local/ann")) == Sent()
    first, second = _lines(target)
    assert first == line(sample(), notifier="local", written_at=NOW.isoformat())
    assert (first["event"], first["recipient"], first["title"]) == ("trigger", None, sample().title)
    assert first["labels"] == dict(sample().labels) and first["written_at"] == "2026-03-01T12:00:05+00:00"
    assert second["recipient"] == {
        "name": "Ann",
        "email": "ann@example.com",
        "chat": None,
        "phone": "+1-555-0101",
    }
    assert (second["event"], second["key"]) == ("escalate", "inc-7/1/local/ann")
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    register_secret("s3cr3t-token-xyz")
    target = tmp_path / "pages.jsonl"
    notifier = LogNotifier("local", cfg.LogNotifier(kind="log", path=str(target)), clock=FakeClock(NOW))
    leaky = sample(
        summary="login failed with s3cr3t-token-xyz",
        annotations={"dsn": "postgresql://app:hunter22@db/app"},
    )
    assert notifier.send(leaky) == Sent()
    text = target.read_text()
    assert "s3cr3t-token-xyz" not in text and "hunter22" not in text
    (written,) = _lines(target)
    assert written["summary"] == f"login failed with {MASK}"
    assert written["annotations"] == {"dsn": f"postgresql://app:{MASK}@db/app"}


def test_an_unwritable_file_is_retried_later(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "pages.jsonl"
    notifier = LogNotifier("local", cfg.LogNotifier(kind="log", path=str(target)), clock=FakeClock(NOW))
    result = notifier.send(sample())
    assert isinstance(result, RetryLater)
    assert result.reason.startswith(f"cannot write {target}: No such file or directory")
    target.parent.mkdir()
    assert notifier.send(sample()) == Sent() and len(_lines(target)) == 1


def test_the_path_is_relative_to_the_platform_file(tmp_path: Path) -> None:
    notifiers = _platform(tmp_path, "notifiers:\n  local: {kind: log, path: var/pages.jsonl}\n")
    assert notifiers["local"].kind == "log"
    (tmp_path / "var").mkdir()
    built = make_notifier("local", notifiers["local"], clock=FakeClock(NOW), base=tmp_path)
    assert isinstance(built, LogNotifier) and built.send(sample()) == Sent()
    assert _lines(tmp_path / "var" / "pages.jsonl")[0]["notifier"] == "local"
    absolute = _platform(tmp_path, f"notifiers:\n  local: {{kind: log, path: {tmp_path}/abs.jsonl}}\n")
    rebased = absolute["local"].with_secret_base(tmp_path / "elsewhere").settings
    assert isinstance(rebased, cfg.LogNotifier) and rebased.path == f"{tmp_path}/abs.jsonl"


@pytest.mark.parametrize(
    ("notifiers", "message"),
    [
        ("notifiers:\n  x: {kind: log}\n", "F:6:3: notifiers.x: missing required key 'path'"),
        (
            "notifiers:\n  x: {kind: log, path: ''}\n",
            "F:6:24: notifiers.x.path: string should have at least 1 character",
        ),
        (
            "notifiers:\n  x: {kind: log, path: a.jsonl, timeout: 2s}\n",
            "F:6:33: notifiers.x.timeout: unknown key 'timeout'",
        ),
    ],
)
def test_log_settings_mistakes_name_their_line(tmp_path: Path, notifiers: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _platform(tmp_path, notifiers)
    assert str(caught.value).replace(str(tmp_path / "tiation.yaml"), "F") == message
