"""The Alertmanager configuration: one receiver, tiation's webhook, with the token read from a file."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from ruamel.yaml import YAML

from tiation.errors import UsageError
from tiation.render.alertmanager import (
    AlertmanagerSettings,
    check_webhook_url,
    intake_url,
    render_alertmanager,
    webhook_url,
)


def _config(**settings: Any) -> Any:
    file = render_alertmanager(
        AlertmanagerSettings(
            **{"webhook_url": "http://127.0.0.1:8080/api/v1/intake/alertmanager", **settings}
        ),
        source="tiation.yaml",
    )
    assert file.name == "alertmanager.yml"
    return YAML(typ="safe", pure=True).load(io.StringIO(file.content))


def test_every_alert_goes_to_the_tiation_webhook_with_a_token_file() -> None:
    assert _config() == {
        "route": {
            "receiver": "tiation",
            "group_by": ["..."],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "tiation",
                "webhook_configs": [
                    {
                        "url": "http://127.0.0.1:8080/api/v1/intake/alertmanager",
                        "send_resolved": True,
                        "max_alerts": 0,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": "alertmanager.token"}
                        },
                    }
                ],
            }
        ],
    }


def test_settings_are_carried_over() -> None:
    config = _config(
        webhook_url="https://oncall.example.com/api/v1/intake/alertmanager",
        token_file="/etc/tiation/am.token",
        group_wait=timedelta(seconds=0.5),
        group_interval=timedelta(seconds=2),
        repeat_interval=timedelta(hours=4),
    )
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "https://oncall.example.com/api/v1/intake/alertmanager"
    assert webhook["http_config"]["authorization"]["credentials_file"] == "/etc/tiation/am.token"
    assert "credentials" not in webhook["http_config"]["authorization"]
    assert (config["route"]["group_wait"], config["route"]["group_interval"]) == ("500ms", "2s")
    assert config["route"]["repeat_interval"] == "4h"


def test_intake_url_is_under_the_server_base_url() -> None:
    assert intake_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/api/v1/intake/alertmanager"
    assert intake_url("https://ops.example.com/tiation/") == (
        "https://ops.example.com/tiation/api/v1/intake/alertmanager"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "must be an http:// or https:// URL"),
        ("127.0.0.1:8080/x", "must be an http:// or https:// URL"),
        ("http:///x", "must be an http:// or https:// URL"),
        ("http://user:pw@host/x", "must not carry credentials"),
    ],
)
def test_bad_webhook_urls_are_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_webhook_url(url)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"group_wait": timedelta(0)}, "group_wait must be longer than 0s"),
        (
            {"repeat_interval": timedelta(seconds=1)},
            "repeat_interval must not be shorter than group_interval",
        ),
        ({"token_file": " "}, "token file path is empty"),
    ],
)
def test_bad_settings_are_usage_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _config(**settings)


def test_same_settings_same_bytes() -> None:
    settings = AlertmanagerSettings(webhook_url="http://h/x", token_file="t")
    assert (
        render_alertmanager(settings, source="a").content == render_alertmanager(settings, source="a").content
    )


@pytest.mark.parametrize(
    ("given", "receiver"),
    [
        ("https://ops.example.com", "https://ops.example.com/api/v1/intake/alertmanager"),
        ("https://ops.example.com/", "https://ops.example.com/api/v1/intake/alertmanager"),
        ("http://10.0.0.5:8080/tiation", "http://10.0.0.5:8080/tiation/api/v1/intake/alertmanager"),
        (
            "https://ops.example.com/api/v1/intake/alertmanager",
            "https://ops.example.com/api/v1/intake/alertmanager",
        ),
    ],
)
def test_webhook_url_is_a_base_url_the_intake_path_is_appended_to(given: str, receiver: str) -> None:
    assert webhook_url(given) == receiver


@pytest.mark.parametrize(
    "given", ["ftp://x/y", "https://ops.example.com/?x=1", "https://u:p@ops.example.com"]
)
def test_a_webhook_url_that_is_no_base_url_is_refused(given: str) -> None:
    with pytest.raises(UsageError, match="--webhook-url"):
        webhook_url(given)
