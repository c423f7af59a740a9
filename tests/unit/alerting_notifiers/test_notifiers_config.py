"""The `notifiers:` section: each kind's settings, secrets only as references, one positioned line per mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from tiation.alerting.notifiers import make_notifier
from tiation.alerting.notifiers.email import EmailNotifier
from tiation.alerting.notifiers.pagerduty import PagerDutyNotifier
from tiation.alerting.notifiers.phone import PhoneNotifier
from tiation.alerting.notifiers.slack import SlackNotifier
from tiation.alerting.notifiers.webhook import WebhookNotifier
from tiation.clock import FakeClock
from tiation.config import notifiers as cfg
from tiation.config.loader import load_platform
from tiation.errors import ConfigError
from tiation.secrets import SecretRef

HEAD = "version: 1\nproject: {name: p}\nenvironments: {dev: {target: fake}}\nservices: {a: {port: 8000}}\n"
ALL_KINDS = """\
notifiers:
  chat:
    kind: slack
    webhook_url: env:SLACK_URL
  mail:
    kind: email
    host: smtp.example.com
    username: alerts
    password: file:secrets/smtp.txt
    from: alerts@example.com
    to: [ops@example.com]
  hook:
    kind: webhook
    url: env:HOOK_URL
    secret: env:HOOK_SECRET
    timeout: 2s
  pd:
    kind: pagerduty
    routing_key: env:PD_KEY
  sms:
    kind: phone
    url: https://sms.example.com/v1/messages
    token: env:SMS_TOKEN
    to: "+1-555-0100"
"""


def load(tmp_path: Path, notifiers: str) -> cfg.Notifier | dict[str, cfg.Notifier]:
    (tmp_path / "tiation.yaml").write_text(HEAD + dedent(notifiers))
    return load_platform(tmp_path / "tiation.yaml").platform.notifiers


def error(tmp_path: Path, notifiers: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, notifiers)
    return str(caught.value).replace(str(tmp_path / "tiation.yaml"), "F")


def test_every_kind_loads_with_its_settings(tmp_path: Path) -> None:
    notifiers = load(tmp_path, ALL_KINDS)
    assert isinstance(notifiers, dict)
    assert {name: n.kind for name, n in notifiers.items()} == {
        "chat": "slack",
        "mail": "email",
        "hook": "webhook",
        "pd": "pagerduty",
        "sms": "phone",
    }
    mail = notifiers["mail"].settings
    assert isinstance(mail, cfg.EmailNotifier)
    assert (mail.port, mail.starttls, mail.sender, mail.to) == (
        587,
        True,
        "alerts@example.com",
        ["ops@example.com"],
    )
    assert mail.password == SecretRef("file:secrets/smtp.txt")
    pd = notifiers["pd"].settings
    assert isinstance(pd, cfg.PagerDutyNotifier)
    assert pd.url == "https://events.pagerduty.com/v2/enqueue"
    assert notifiers["hook"].settings.timeout == timedelta(seconds=2)
    assert notifiers["chat"].settings.timeout == timedelta(seconds=10)


def test_unset_secrets_do_not_matter_until_a_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_URL", "HOOK_URL", "HOOK_SECRET", "PD_KEY", "SMS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    notifiers = load(tmp_path, ALL_KINDS)
    assert isinstance(notifiers, dict)
    built = {name: make_notifier(name, n, clock=FakeClock()) for name, n in notifiers.items()}
    assert [type(n) for n in built.values()] == [
        SlackNotifier,
        EmailNotifier,
        WebhookNotifier,
        PagerDutyNotifier,
        PhoneNotifier,
    ]
    assert built["pd"].name == "pd"


def test_file_secrets_resolve_beside_the_platform_file(tmp_path: Path) -> None:
    notifiers = load(tmp_path, ALL_KINDS)
    assert isinstance(notifiers, dict)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "smtp.txt").write_text("pw-from-file\n")
    rebased = notifiers["mail"].with_secret_base(tmp_path).settings
    assert isinstance(rebased, cfg.EmailNotifier) and isinstance(rebased.password, SecretRef)
    assert rebased.password.reveal() == "pw-from-file"
    assert notifiers["mail"].settings.password == rebased.password  # the same reference, only rebased


@pytest.mark.parametrize(
    ("notifiers", "message"),
    [
        ("notifiers:\n  x: {url: env:U}\n", "F:6:3: notifiers.x: missing required key 'kind'"),
        (
            "notifiers:\n  x: {url: env:U, kind: sms}\n",
            "F:6:25: notifiers.x.kind: expected one of "
            "'slack', 'email', 'webhook', 'pagerduty', 'phone', 'log', got 'sms'",
        ),
        (
            "notifiers:\n  x: {kind: slack, webhook_url: https://hooks.slack.com/services/T0/B0/hunter2}\n",
            "F:6:33: notifiers.x.webhook_url: expected a secret reference 'env:NAME' or 'file:PATH' "
            "(never a literal secret)",
        ),
        ("notifiers:\n  x: {kind: slack}\n", "F:6:3: notifiers.x: missing required key 'webhook_url'"),
        (
            "notifiers:\n  x: {kind: slack, webhook_url: env:U, chanel: ops}\n",
            "F:6:40: notifiers.x.chanel: unknown key 'chanel'",
        ),
        (
            "notifiers:\n  x: {kind: pagerduty, routing_key: hunter2}\n",
            "F:6:37: notifiers.x.routing_key: expected a secret reference 'env:NAME' or 'file:PATH' "
            "(never a literal secret)",
        ),
        (
            "notifiers:\n  x: {kind: email, host: h, from: a@b.c, username: u, password: hunter2}\n",
            "F:6:65: notifiers.x.password: expected a secret reference 'env:NAME' or 'file:PATH' "
            "(never a literal secret)",
        ),
        (
            "notifiers:\n  x: {kind: email, host: h, from: a@b.c, password: env:P}\n",
            "F:6:52: notifiers.x.password: a password needs a 'username'",
        ),
        (
            "notifiers:\n  x: {kind: email, host: h, from: a@b.c, username: u}\n",
            "F:6:6: notifiers.x: a 'username' needs a 'password' (a secret reference)",
        ),
        (
            "notifiers:\n  x: {kind: email, host: h, from: a@b.c, to: [ops]}\n",
            "F:6:47: notifiers.x.to[0]: expected an email address like 'alerts@example.com', got 'ops'",
        ),
        (
            "notifiers:\n  x: {kind: email, host: h, from: a@b.c, port: 70000}\n",
            "F:6:48: notifiers.x.port: must be at most 65535, got 70000",
        ),
        (
            "notifiers:\n  x: {kind: webhook, url: env:U, secret: env:S, timeout: 5m}\n",
            "F:6:58: notifiers.x.timeout: a notifier timeout must be more than 0s and at most 60s",
        ),
        (
            "notifiers:\n  x: {kind: phone, url: sms.example.com, token: env:T}\n",
            "F:6:25: notifiers.x.url: expected an http:// or https:// URL (or a secret reference to one)",
        ),
        (
            "notifiers:\n  x: {kind: phone, url: env:U, token: env:T, to: call-me}\n",
            "F:6:50: notifiers.x.to: expected a phone number like '+1-555-0101', got 'call-me'",
        ),
    ],
)
def test_mistakes_are_one_positioned_line(tmp_path: Path, notifiers: str, message: str) -> None:
    got = error(tmp_path, notifiers)
    assert got == message
    assert "hunter2" not in got
