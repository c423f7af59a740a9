"""A new backup source is two files: its module in `backup/sources/` and its settings model in `config/backups.py`.

The proof is done for real, not with a test double: the package is copied, exactly those two files are changed
(a new `onefile` source that backs up one file as it is), and the *unchanged* CLI of the copy then runs, verifies,
restores, swaps in and drills that source from a platform file. The test also checks that the copy differs from
the shipped package in those two files only, and that the shipped package refuses the same platform file.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tiation

PACKAGE = Path(tiation.__file__).parent

NEW_MODULE = '''\
"""The `onefile` backup source: one file, stored as it is."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tiation.backup.sources.base import Restored, SourceInfo
from tiation.config.backups import OnefileBackup, SourceSettings, VerifyChecks
from tiation.errors import BackupError


class OnefileReader:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fh = path.open("rb")

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)

    def close(self) -> SourceInfo:
        self._fh.close()
        return SourceInfo(kind="onefile", format="raw", details={"path": str(self._path)})

    def abort(self) -> None:
        self._fh.close()


class OnefileSource:
    kind = "onefile"

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_settings(cls, settings: SourceSettings, root: Path) -> OnefileSource:
        assert isinstance(settings, OnefileBackup)
        return cls(root / settings.path)

    def open(self) -> OnefileReader:
        if not self.path.is_file():
            raise BackupError(f"{self.path} is not a file")
        return OnefileReader(self.path)

    def restore_target(self, to: str | None, suffix: str) -> str:
        return to or str(self.path.with_name(f"{self.path.name}.restored-{suffix}"))

    def restore(self, stream: Iterator[bytes], target: str, info: Mapping[str, Any]) -> Restored:
        written = 0
        with Path(target).open("xb") as fh:
            for chunk in stream:
                written += fh.write(chunk)
        return Restored(written)

    def check(self, target: str, checks: VerifyChecks) -> list[str]:
        return [f"{Path(target).stat().st_size} bytes"]

    def replace(self, target: str, suffix: str) -> str:
        aside = self.path.with_name(f"{self.path.name}.replaced-{suffix}")
        self.path.replace(aside)
        Path(target).replace(self.path)
        return str(aside)

    @contextmanager
    def scratch(self, label: str, suffix: str) -> Iterator[str]:
        with tempfile.TemporaryDirectory() as scratch:
            yield str(Path(scratch) / label)


SOURCE = OnefileSource
'''

NEW_MODEL = """\
class OnefileBackup(SourceSettings):
    path: str


"""
NEW_FIELD = "    onefile: OnefileBackup | None = None\n"

PLATFORM = """\
version: 1
project: {name: shop}
environments: {dev: {target: fake}}
services: {web: {port: 5000, tier: critical}}
objectives: {tiers: {critical: {rto: 5m, rpo: 15m}}}
storage:
  local: {dir: {path: backups}}
backups:
  notes:
    source: {onefile: {path: notes.txt}}
    storage: local
    tier: critical
"""


def _add_source(package: Path) -> None:
    """The two changes a new source needs: its module, and its settings model (with its key under `source:`)."""
    (package / "backup" / "sources" / "onefile.py").write_text(NEW_MODULE, encoding="utf-8")
    config = package / "config" / "backups.py"
    text = config.read_text(encoding="utf-8")
    anchor = "class BackupSource(_Strict):"
    assert text.count(anchor) == 1
    text = text.replace(anchor, NEW_MODEL + anchor)
    last_field = "    files: FilesBackup | None = None\n"
    assert text.count(last_field) == 1
    config.write_text(text.replace(last_field, last_field + NEW_FIELD), encoding="utf-8")


def _changed(left: Path, right: Path) -> list[str]:
    """Paths (relative, posix) that differ between two trees or exist in one only; caches ignored."""
    cmp = filecmp.dircmp(left, right, ignore=["__pycache__"])
    out = list(cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files)
    for name in cmp.common_dirs:
        out += [f"{name}/{p}" for p in _changed(left / name, right / name)]
    return sorted(out)


def _cli(
    root: Path, pythonpath: Path | None, *args: str, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIATION_")}
    env.update(TIATION_FILE=str(root / "tiation.yaml"), TIATION_ACTOR="ops")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run(
        [sys.executable, "-m", "tiation", *args],
        env=env,
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == expect, f"tiation {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return proc


@pytest.fixture
def extended(tmp_path: Path) -> Path:
    """A copy of the installed package with the `onefile` source added; returns the directory to import from."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "tiation", ignore=shutil.ignore_patterns("__pycache__"))
    _add_source(site / "tiation")
    return site


def test_the_new_source_touches_two_files(extended: Path) -> None:
    assert _changed(PACKAGE, extended / "tiation") == ["backup/sources/onefile.py", "config/backups.py"]


def test_the_new_source_backs_up_restores_swaps_and_drills(extended: Path, tmp_path: Path) -> None:
    root = tmp_path / "platform"
    root.mkdir()
    (root / "tiation.yaml").write_text(PLATFORM, encoding="utf-8")
    notes = root / "notes.txt"
    notes.write_text("first line\n" * 1000, encoding="utf-8")

    def run(*args: str, expect: int = 0) -> Any:
        return json.loads(_cli(root, extended, *args, "--json", expect=expect).stdout)

    backup_id = run("backup", "run", "notes")["backup_id"]
    assert run("backup", "show", backup_id)["manifest"]["source"] == {
        "kind": "onefile",
        "format": "raw",
        "details": {"path": str(notes)},
    }
    deep = run("backup", "verify", backup_id, "--restore")
    assert deep["verified"] is True and deep["restore"]["checks"] == ["11000 bytes"]
    assert not Path(deep["restore"]["target"]).exists()  # the scratch target is gone

    notes.write_text("changed\n", encoding="utf-8")
    swapped = run("backup", "restore", backup_id, "--replace")
    assert swapped["kind"] == "onefile" and swapped["restored_bytes"] == 11000
    assert notes.read_text(encoding="utf-8") == "first line\n" * 1000
    assert Path(swapped["replaced"]).read_text(encoding="utf-8") == "changed\n"

    drill = run("backup", "drill", "notes")
    assert drill["passed"] is True and drill["objective_s"] == 300.0


def test_without_the_settings_model_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tiation.yaml").write_text(PLATFORM, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x\n", encoding="utf-8")
    err = _cli(tmp_path, None, "backup", "run", "notes", expect=2).stderr.strip()
    assert len(err.splitlines()) == 1
    assert "tiation.yaml:10:14: backups.notes.source.onefile: unknown key 'onefile'" in err
