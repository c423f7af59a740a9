"""The cached platform snapshot: same answers and errors as a fresh load, never stale, never another file's."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import tiation
from tiation.cli.main import main
from tiation.config import loader, snapshot
from tiation.config.loader import load_platform
from tiation.config.models import PlatformCore
from tiation.config.snapshot import load_platform_cached, snapshot_key, snapshot_path
from tiation.errors import ConfigError
from tiation.secrets import SecretRef

VALID = Path(__file__).parents[2] / "spec" / "config" / "valid.yaml"
EXAMPLE = Path(__file__).parents[3] / "examples" / "ecosystem" / "tiation.yaml"

MINIMAL = """\
project: {name: shop}
environments: {dev: {target: fake}}
services:
  cms:
    port: 8080
    env: {TOKEN: "env:SNAPSHOT_TEST_TOKEN", KEY: "file:keys/api.key"}
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths the real parser + validator ran for (a snapshot hit adds nothing)."""
    calls: list[Path] = []
    real = loader.load_platform_bytes

    def counting(path: Path, raw: bytes) -> loader.LoadedPlatform:
        calls.append(path)
        return real(path, raw)

    monkeypatch.setattr(loader, "load_platform_bytes", counting)
    return calls


def _write(tmp_path: Path, text: str = MINIMAL, name: str = "tiation.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", [VALID, EXAMPLE], ids=["spec", "example"])
def test_a_snapshot_answers_like_a_fresh_load(tmp_path: Path, parses: list[Path], source: Path) -> None:
    path = tmp_path / "tiation.yaml"
    shutil.copy(source, path)
    first = load_platform_cached(path)
    assert snapshot_path(path).is_file()
    second = load_platform_cached(path)
    assert parses == [path]  # the second load came from the snapshot
    fresh = load_platform(path)
    assert second == first == fresh
    assert second.platform is not first.platform
    refs = [v for s in second.platform.services.values() for v in s.env.values() if isinstance(v, SecretRef)]
    assert refs and all(ref.base == path.resolve().parent for ref in refs)


def test_an_edit_that_keeps_size_and_mtime_is_seen(tmp_path: Path, parses: list[Path]) -> None:
    path = _write(tmp_path)
    assert load_platform_cached(path).platform.services["cms"].port == 8080
    stat = path.stat()
    path.write_text(MINIMAL.replace("8080", "9090"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert load_platform_cached(path).platform.services["cms"].port == 9090
    assert len(parses) == 2


def _new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiation, "__version__", tiation.__version__ + ".post1")


def _new_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "_code_digest", lambda: "other code")


@pytest.mark.parametrize("change", [_new_version, _new_code], ids=["package-version", "validating-code"])
def test_a_change_of_tiation_invalidates(
    tmp_path: Path,
    parses: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[pytest.MonkeyPatch], None],
) -> None:
    path = _write(tmp_path)
    load_platform_cached(path)
    load_platform_cached(path)
    assert len(parses) == 1
    change(monkeypatch)
    assert load_platform_cached(path).platform.services["cms"].port == 8080
    assert len(parses) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"garbage",
        lambda data: data[: len(data) // 2],  # truncated pickle under the right key
        lambda data: data.partition(b"\n")[0] + b"\n" + b"\x80\x05not a pickle",
        lambda data: data.partition(b"\n")[0] + b"\n" + pickle.dumps({"not": "a platform"}),
    ],
)
def test_a_corrupt_snapshot_is_ignored_and_rebuilt(
    tmp_path: Path, parses: list[Path], damage: object
) -> None:
    path = _write(tmp_path)
    load_platform_cached(path)
    cache = snapshot_path(path)
    assert callable(damage)
    cache.write_bytes(damage(cache.read_bytes()))
    rebuilt = load_platform_cached(path).platform
    assert len(parses) == 2
    again = load_platform_cached(path)  # rebuilt: a hit again, core and rest
    assert again.core.services["cms"].port == 8080 and again.platform == rebuilt
    assert len(parses) == 2
    assert rebuilt == load_platform(path).platform


def test_a_snapshot_holding_other_classes_is_never_unpickled(tmp_path: Path, parses: list[Path]) -> None:
    path = _write(tmp_path)
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Exploit(str(marker)))
    cache = snapshot_path(path)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(snapshot_key(path, path.read_bytes()) + b"\n" + evil)
    assert load_platform_cached(path).platform.services["cms"].port == 8080
    assert not marker.exists()
    assert len(parses) == 1


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (Path(self.marker),))  # type: ignore[return-value]


def test_another_files_snapshot_is_never_served(tmp_path: Path, parses: list[Path]) -> None:
    a = _write(tmp_path, name="a.yaml")
    b = _write(tmp_path, MINIMAL.replace("8080", "9090"), name="b.yaml")
    assert snapshot_path(a) != snapshot_path(b)
    load_platform_cached(a)
    shutil.copy(snapshot_path(a), snapshot_path(b))  # a's snapshot where b's would be
    assert load_platform_cached(b).platform.services["cms"].port == 9090
    # the same content at another path: its secret references resolve elsewhere, so it has its own snapshot
    other = tmp_path / "other"
    other.mkdir()
    moved = _write(other, MINIMAL)
    shutil.copy(snapshot_path(a), snapshot_path(moved).parent.mkdir(parents=True) or snapshot_path(moved))
    refs = [
        v
        for v in load_platform_cached(moved).platform.services["cms"].env.values()
        if isinstance(v, SecretRef)
    ]
    assert {ref.base for ref in refs} == {other.resolve()}
    assert len(parses) == 3


def test_a_bad_file_gives_the_same_error_every_time_and_is_not_cached(tmp_path: Path) -> None:
    path = _write(tmp_path)
    load_platform_cached(path)
    path.write_text(MINIMAL.replace("port: 8080", "port: abc"), encoding="utf-8")
    with pytest.raises(ConfigError) as fresh:
        load_platform(path)
    for _ in range(2):
        with pytest.raises(ConfigError) as cached:
            load_platform_cached(path)
        assert str(cached.value) == str(fresh.value)
        assert ":5:11: services.cms.port:" in str(cached.value)


def test_snapshots_hold_references_never_secret_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSHOT_TEST_TOKEN", "tok-5up3r-s3cr3t")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "api.key").write_text("k3y-fr0m-f1le\n")
    path = _write(tmp_path)
    loaded = load_platform_cached(path)
    env = loaded.platform.services["cms"].env
    assert isinstance(env["TOKEN"], SecretRef) and env["TOKEN"].reveal() == "tok-5up3r-s3cr3t"
    load_platform_cached(path)
    data = snapshot_path(path).read_bytes()
    assert b"env:SNAPSHOT_TEST_TOKEN" in data
    assert b"tok-5up3r-s3cr3t" not in data and b"k3y-fr0m-f1le" not in data


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, parses: list[Path]) -> None:
    path = _write(tmp_path)
    (tmp_path / ".tiation").write_text("a file where the cache directory would be")
    assert load_platform_cached(path) == load_platform(path)
    assert load_platform_cached(path) == load_platform(path)


def test_every_command_reports_a_bad_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path)
    monkeypatch.setenv("TIATION_FILE", str(path))
    main(["validate"])
    assert snapshot_path(path).is_file()
    path.write_text(MINIMAL.replace("port: 8080", "port: abc"), encoding="utf-8")
    capsys.readouterr()
    for args in (["validate"], ["status"], ["status"], ["history", "dev"]):
        with pytest.raises(SystemExit) as failed:
            main(args)
        assert failed.value.code == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [f"error: {path}:5:11: services.cms.port: expected an integer, got 'abc'"]


SECTIONS = (
    "tiation.config.alerting",
    "tiation.config.notifiers",
    "tiation.config.oncall",
    "tiation.config.backups",
)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example's platform file, with its snapshot written."""
    path = tmp_path / "tiation.yaml"
    shutil.copy(EXAMPLE, path)
    load_platform_cached(path)
    return path


def test_the_core_is_served_without_the_other_sections_models(example: Path) -> None:
    path = example
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tiation.config.snapshot import load_platform_cached\n"
        f"loaded = load_platform_cached(Path({str(path)!r}))\n"
        "print(sorted(loaded.core.environments), type(loaded.core).__name__)\n"
        f"print([m for m in {SECTIONS!r} if m in sys.modules])\n"
        "print(loaded.platform.notifiers['slack'].kind)\n"
        "print('ruamel.yaml' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == [
        "['cluster', 'dev', 'local', 'production', 'staging'] PlatformCore",
        "[]",
        "slack",
        "False",
    ]


def test_the_core_holds_the_same_values_as_the_whole_file(example: Path) -> None:
    cached, fresh = load_platform_cached(example), load_platform(example)
    assert type(cached.core) is PlatformCore
    for name in PlatformCore.model_fields:
        assert getattr(cached.core, name) == getattr(fresh.platform, name), name
    assert cached.core.model_fields_set == fresh.platform.model_fields_set & set(PlatformCore.model_fields)
    assert cached.platform == fresh.platform
    assert cached.core is cached.platform  # once the whole file is loaded, it is the core too
