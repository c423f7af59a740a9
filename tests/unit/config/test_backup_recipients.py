"""Backup recipients are parsed with pyrage at load: SSH keys are accepted, broken ones are one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tiation.config.loader import load_platform
from tiation.errors import ConfigError

PLATFORM = """\
version: 1
project: {{name: shop}}
environments: {{dev: {{target: fake}}}}
services: {{web: {{port: 5000}}}}
storage: {{local: {{dir: {{path: backups}}}}}}
backups:
  app:
    source: {{sqlite: {{path: app.db}}}}
    storage: local
    encryption: {{recipients: ["{recipient}"]}}
"""


def _ssh_public_key(tmp_path: Path) -> str:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def test_an_ssh_recipient_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM.format(recipient=_ssh_public_key(tmp_path)))
    encryption = load_platform(path).platform.backups["app"].encryption
    assert encryption is not None and encryption.recipients[0].startswith("ssh-ed25519 ")


def test_a_broken_ssh_recipient_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tiation.yaml"
    key = _ssh_public_key(tmp_path)
    path.write_text(PLATFORM.format(recipient=key[:-12]))
    with pytest.raises(ConfigError) as caught:
        load_platform(path)
    assert str(caught.value).startswith(f"{path}:10:31: ")
    assert "backups.app.encryption.recipients[0]: not a valid SSH public key" in str(caught.value)
