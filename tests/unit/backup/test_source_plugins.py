"""Backup sources are plug-ins: one registry, one protocol, no kind tests elsewhere, secrets as references."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

import tiation
from tiation.backup.sources import build_source, source_kinds, source_type, source_types
from tiation.backup.sources.files import FilesSource
from tiation.backup.sources.sqlite import SQLiteSource
from tiation.config.backups import BackupSource, FilesBackup, PostgresBackup, SqliteBackup, VerifyChecks
from tiation.config.loader import load_platform
from tiation.errors import BackupError, ConfigError, UsageError
from tiation.secrets import SecretRef

SRC = Path(tiation.__file__).parent
SOURCES = SRC / "backup" / "sources"
LIFE = ("open", "restore_target", "restore", "check", "replace", "scratch", "from_settings")


def test_every_source_key_of_the_platform_file_has_a_plugin_and_back() -> None:
    assert source_kinds() == sorted(BackupSource.model_fields) == ["files", "postgres", "sqlite"]


@pytest.mark.parametrize("kind", ["postgres", "sqlite", "files"])
def test_a_plugin_covers_the_whole_life_of_its_source(kind: str) -> None:
    plugin = source_types()[kind]
    assert plugin.kind == kind
    for method in LIFE:
        assert callable(getattr(plugin, method)), f"{kind} lacks {method}"


def test_an_unknown_kind_is_one_line() -> None:
    for kind in ("mysql", "base", "../etc"):
        with pytest.raises(BackupError, match=r"^no backup source plug-in for kind") as err:
            source_type(kind)
        assert "\n" not in str(err.value)


def test_build_source_uses_the_settings_under_the_kind_key(tmp_path: Path) -> None:
    source = build_source(BackupSource(sqlite=SqliteBackup(path="app.db")), tmp_path)
    assert isinstance(source, SQLiteSource) and source.path == tmp_path / "app.db"
    files = build_source(BackupSource(files=FilesBackup(paths=["a", "b"])), tmp_path)
    assert isinstance(files, FilesSource) and files.paths == [tmp_path / "a", tmp_path / "b"]


def _product_modules() -> list[Path]:
    """Product modules that are not a source plug-in's own (where kind tests would be a leak)."""
    own = {SOURCES / "postgres", *(SOURCES / f"{k}.py" for k in source_kinds())}
    return [p for p in SRC.rglob("*.py") if p not in own and not (own & set(p.parents))]


def test_no_product_module_tests_a_source_kind_or_class() -> None:
    kinds = set(source_kinds())
    classes = {
        "PostgresSource",
        "SQLiteSource",
        "FilesSource",
        "PostgresBackup",
        "SqliteBackup",
        "FilesBackup",
    }
    leaks = []
    for path in _product_modules():
        if "backup" not in path.parts and path.name not in ("checks.py", "backup.py"):
            continue  # other pillars have their own meanings of "postgres" / "sqlite" (state backends)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in kinds:
                leaks.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Attribute) and node.attr in kinds:
                leaks.append(f"{path.relative_to(SRC)}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Name) and node.id in classes and path.name != "backups.py":
                leaks.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.id}")
    assert leaks == []


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_sources_are_independent_of_each_other() -> None:
    for kind in source_kinds():
        own = f"tiation.backup.sources.{kind}"
        paths = list((SOURCES / kind).rglob("*.py")) or [SOURCES / f"{kind}.py"]
        for path in paths:
            others = {
                m
                for m in _imports(path)
                if m.startswith("tiation.backup.sources.")
                and m != "tiation.backup.sources.base"
                and not m.startswith(own)
            }
            assert others == set(), f"{path.relative_to(SRC)} imports {others}"


def test_boto3_is_imported_only_by_the_s3_store() -> None:
    importers = {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(m.split(".")[0] in ("boto3", "botocore") for m in _imports(p))
    }
    assert importers == {"backup/stores/s3.py"}


# -- the restore side of the shipped plug-ins ------------------------------------------------------------------
def test_scratch_targets_are_removed_even_when_the_restore_fails(tmp_path: Path) -> None:
    for source in (SQLiteSource(tmp_path / "app.db"), FilesSource([tmp_path])):
        with pytest.raises(BackupError), source.scratch("app-db", "20260101000000") as target:
            Path(target).parent.joinpath("junk").write_text("x")
            raise BackupError("restore failed")
        assert not Path(target).parent.exists()


def test_sqlite_restores_beside_the_live_file_checks_and_swaps(tmp_path: Path) -> None:
    live = tmp_path / "app.db"
    with sqlite3.connect(live) as conn:
        conn.execute("create table pages(id integer primary key)")
    conn.close()
    source = SQLiteSource(live)
    target = source.restore_target(None, "20260101000000")
    assert target == str(tmp_path / "app.restored-20260101000000.db")
    restored = source.restore(iter([live.read_bytes()]), target, {"kind": "sqlite", "format": "sqlite-db"})
    assert restored.written == live.stat().st_size and restored.notes == ()
    assert source.check(target, VerifyChecks(tables=["pages"])) == [
        "integrity_check ok",
        "table pages present",
    ]
    with pytest.raises(BackupError, match="lacks table"):
        source.check(target, VerifyChecks(tables=["orders"]))
    with pytest.raises(BackupError, match="already exists"):
        source.restore(iter([b""]), target, {})
    aside = source.replace(target, "20260101000000")
    assert aside == str(tmp_path / "app.db.replaced-20260101000000") and Path(aside).exists()
    assert live.exists() and not Path(target).exists()


def test_files_need_a_directory_and_cannot_be_swapped_in(tmp_path: Path) -> None:
    source = FilesSource([tmp_path])
    with pytest.raises(UsageError, match="needs --to DIRECTORY"):
        source.restore_target(None, "x")
    assert source.restore_target(str(tmp_path / "out"), "x") == str(tmp_path / "out")
    with pytest.raises(UsageError, match="--replace applies to databases"):
        source.replace(str(tmp_path / "out"), "x")


# -- secrets of the backup config are references from the load on ------------------------------------------
PLATFORM = """\
version: 1
services: {web: {port: 5000}}
project: {name: shop}
environments: {dev: {target: fake}}
storage:
  offsite: {s3: {bucket: backups, access_key: env:S3_AK, secret_key: file:keys/s3.key}}
backups:
  pg:
    source: {postgres: {dsn: DSN}}
    storage: offsite
    encryption: {recipients: [age1yg5rsyzs567j75nnwxlnypvlvmfvrksvjakjsj5pm2vzvughqavq98hg6h], identity: file:id.txt}
"""


def test_backup_secrets_are_secret_refs_resolved_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM.replace("DSN", "file:keys/dsn"), encoding="utf-8")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dsn").write_text("postgresql://u:pw-planted@db/app\n")
    (tmp_path / "keys" / "s3.key").write_text("s3-planted\n")
    (tmp_path / "id.txt").write_text("AGE-SECRET-KEY-PLANTED\n")
    platform = load_platform(path).platform
    backup, s3 = platform.backups["pg"], platform.storage["offsite"].s3
    assert s3 is not None and backup.encryption is not None
    settings = backup.source.settings
    assert isinstance(settings, PostgresBackup)
    dsn = settings.dsn
    for ref, value in [
        (dsn, "postgresql://u:pw-planted@db/app"),
        (s3.secret_key, "s3-planted"),
        (backup.encryption.identity, "AGE-SECRET-KEY-PLANTED"),
    ]:
        assert isinstance(ref, SecretRef) and ref.base == tmp_path.resolve()
        assert ref.reveal() == value
    assert s3.access_key == SecretRef("env:S3_AK")
    assert "planted" not in repr(platform.backups) + repr(platform.storage)


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("postgresql://u:pw@db/app", "expected a secret reference 'env:NAME' or 'file:PATH'"),
        ("5", "expected a string, got 5 (put it in quotes)"),
    ],
)
def test_a_literal_dsn_is_one_line_at_its_position(tmp_path: Path, dsn: str, message: str) -> None:
    path = tmp_path / "tiation.yaml"
    path.write_text(PLATFORM.replace("DSN", dsn), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_platform(path)
    text = str(err.value)
    assert text.startswith(f"{path}:9:30: backups.pg.source.postgres.dsn: {message}")
    assert "\n" not in text and "pw@" not in text


def test_a_backup_is_restored_only_by_the_plugin_of_its_kind(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from tiation.backup.recovery import _source_of

    service = SimpleNamespace(source=lambda name: SQLiteSource(tmp_path / "app.db"))
    row = SimpleNamespace(id="app-db-1", name="app-db", manifest={"source": {"kind": "files"}})
    with pytest.raises(BackupError) as err:
        _source_of(service, row)  # type: ignore[arg-type]
    assert str(err.value) == (
        "backup app-db-1 was taken from a files source, but backups.app-db.source is sqlite"
    )
    row.manifest["source"]["kind"] = "sqlite"
    assert isinstance(_source_of(service, row), SQLiteSource)  # type: ignore[arg-type]
